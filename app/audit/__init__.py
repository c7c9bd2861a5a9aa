"""The audit trail's read side: `GET /v1/audit-events` for platform admins and, for their own
organizations' events, organization owners (the trail itself: `app/core/audit.py`)."""
