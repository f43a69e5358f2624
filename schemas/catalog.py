"""Every message module of the platform, imported so the registry knows all wire types.

`tessera schemas export` and any process that decodes arbitrary messages import
this; a new message module is added here once.
"""

from schemas import (  # noqa: F401
    billing,
    compute,
    fleet,
    identity,
    inference,
    jobs,
    metering,
    policy,
    system,
    usage,
    workflows,
)
