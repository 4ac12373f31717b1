"""The domain core: every rule that decides something, defined once, pure.

One module per subject: :mod:`.names` (VM, snapshot and key pair names),
:mod:`.deletion` (may this image be deleted, and why not), :mod:`.preflight` (may this VM be
snapshotted now), :mod:`.retention` (which scheduled snapshots go), :mod:`.offering` (which
sites offer an image), :mod:`.servers` (may this VM be stopped, started, rebooted or deleted
now) and :mod:`.listing` (the snapshot index or a Glance page). Panels, flows, the CLI and
tests import these; nothing re-implements them.
"""

from denbi_jupyter.cloud.rules.deletion import Refusal, deletion_refusal
from denbi_jupyter.cloud.rules.listing import ListingPlan, ListingSource, plan_listing
from denbi_jupyter.cloud.rules.names import (
    HOSTNAME_MAX,
    NAME_MAX,
    NameKind,
    check_keypair_name,
    check_name,
    check_server_name,
    check_snapshot_name,
    name_problem,
    vm_name_warning,
)
from denbi_jupyter.cloud.rules.offering import offered_sites, offering, offers
from denbi_jupyter.cloud.rules.preflight import MAX_SNAPSHOT_RAM_MB, Preflight, evaluate
from denbi_jupyter.cloud.rules.retention import (
    NIGHTLY,
    SCHEDULE_KEY,
    check_retention,
    made_by_schedule,
    marked_servers,
    plan_retention,
    schedule_mark,
    split_by_mark,
)
from denbi_jupyter.cloud.rules.servers import (
    ActionRefusal,
    ServerAction,
    ServerRefusal,
    action_refusal,
)

__all__ = [
    "HOSTNAME_MAX",
    "MAX_SNAPSHOT_RAM_MB",
    "NAME_MAX",
    "NIGHTLY",
    "SCHEDULE_KEY",
    "ActionRefusal",
    "ListingPlan",
    "ListingSource",
    "NameKind",
    "Preflight",
    "Refusal",
    "ServerAction",
    "ServerRefusal",
    "action_refusal",
    "check_keypair_name",
    "check_name",
    "check_retention",
    "check_server_name",
    "check_snapshot_name",
    "deletion_refusal",
    "evaluate",
    "made_by_schedule",
    "marked_servers",
    "name_problem",
    "offered_sites",
    "offering",
    "offers",
    "plan_listing",
    "plan_retention",
    "schedule_mark",
    "split_by_mark",
    "vm_name_warning",
]
