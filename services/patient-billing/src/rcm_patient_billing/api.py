"""Read APIs of patient-billing."""

from rcm_runtime.reads import stage_read_router

from rcm_patient_billing.access import needs
from rcm_patient_billing.db import patient_balances

router = stage_read_router(patient_balances, tag="patient-billing", needs=needs("balances.read"),
                           status_column="status", queue_path="/balances", queue_default=None, time_column="opened_at")
