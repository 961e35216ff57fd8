from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "denials"
    db_schema: str = "denials"
    # a denial pattern (one payer, procedure and CARC) on more than this many claims in 30 days recommends a
    # scrubber rule, unless the tenant set its own (PUT /v1/settings/denial-rule-threshold)
    denial_rule_threshold: int = 5
