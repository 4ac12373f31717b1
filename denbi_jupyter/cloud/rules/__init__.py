"""The domain core: every rule that decides something, defined once, pure.

One module per subject: :mod:`.names` (VM, snapshot and key pair names),
:mod:`.deletion` (may this image be deleted, and why not), :mod:`.preflight` (may this VM be
snapshotted now), :mod:`.retention` (which scheduled snapshots go), :mod:`.offering` (which
sites offer an image) and :mod:`.listing` (the snapshot index or a Glance page). Panels,
flows, the CLI and tests import these; nothing re-implements them.
"""
