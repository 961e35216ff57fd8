"""submission's domain errors (the runtime maps NotFound to 404 and Conflict to 409)."""

from rcm_runtime.errors import Conflict, NotFound


class NotFoundClaim(NotFound):
    code = "not_found"


class NotAccepted(Conflict):
    """The action needs a claim the payer accepted (or paid), and this one is not there yet."""

    code = "not_accepted"
