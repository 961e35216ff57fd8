"""submission's domain errors (the runtime maps NotFound to 404 and Conflict to 409)."""

from rcm_runtime.errors import Conflict, DomainError, NotFound


class NotFoundClaim(NotFound):
    code = "not_found"


class NotAccepted(Conflict):
    """The action needs a claim the payer accepted (or paid), and this one is not there yet."""

    code = "not_accepted"


class SecondaryQueued(Conflict):
    """The claim's secondary claim exists already (sent automatically after the primary's payment, or by hand)."""

    code = "secondary_queued"


class NotFoundInterchange(NotFound):
    code = "not_found"


class UnknownClearinghouse(DomainError):
    """A route names a clearinghouse this deployment has no connection for (the API answers 422)."""

    code = "unknown_clearinghouse"

    def __init__(self, configured: list[str]) -> None:
        super().__init__("no connection with this name is configured")
        self.configured = configured
