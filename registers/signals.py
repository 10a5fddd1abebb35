"""What registers tells the layers above it, without importing them.

`registers_queued` is sent once the transaction that queued a tenant's
registers for Odoo has committed (keyword `tenant_id`). The sync app connects
to it in its AppConfig.ready and pushes soon; with nothing connected, the
beat tick still finds the work.
"""

from django.dispatch import Signal

registers_queued = Signal()
