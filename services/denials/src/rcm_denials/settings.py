from rcm_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "denials"
    db_schema: str = "denials"
    # how long the expiry sweep waits when nothing was due (0: no sweep; the queue still shows `expired` on read)
    expiry_sweep_s: float = 600.0
    # a denial pattern (one payer, procedure and CARC) on more than this many claims in 30 days recommends a
    # scrubber rule, unless the tenant set its own (PUT /v1/settings/denial-rule-threshold)
    denial_rule_threshold: int = 5
