"""Attempt history (18.0.1.2.0): each delivery attempted before the upgrade gets one attempt row.

Only the last attempt was kept until then; it becomes the delivery's history, without its
headers (never recorded), so an upgraded database shows what it knows.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute("""
        INSERT INTO integration_webhook_attempt
               (delivery_id, attempt, started_at, duration_ms, http_status, outcome, response_excerpt, error)
        SELECT d.id, d.attempt_count, coalesce(d.last_attempt_at, d.write_date), round(d.duration_ms),
               nullif(d.last_status, 0),
               CASE d.state WHEN 'delivered' THEN 'delivered' WHEN 'dead' THEN 'dead'
                            WHEN 'cancelled' THEN 'cancelled' ELSE 'retry' END,
               d.response_excerpt, d.error
          FROM integration_webhook_delivery d
         WHERE d.attempt_count > 0
           AND NOT EXISTS (SELECT 1 FROM integration_webhook_attempt a WHERE a.delivery_id = d.id)
    """)
