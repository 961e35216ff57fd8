import os

# The suite runs services against the local stack's development secrets (a passwordless superuser URL, dev-* keys):
# apps and migrations started by tests, in this process or its subprocesses, run in development mode
# (rcm_runtime.secret_settings). Tests of the production check set the mode themselves.
os.environ.setdefault("RCM_ENV", "development")

pytest_plugins = ["tests.support.fixtures"]
