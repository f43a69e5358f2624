"""Every message module of the platform, imported so the registry knows all wire types.

`tessera schemas export` and any process that decodes arbitrary messages import
this; a new message module is added here once.
"""

from schemas import compute, fleet, identity, inference, jobs, metering, policy, system, usage, workflows  # noqa: F401
