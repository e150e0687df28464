-- integration_suite: a neutralized copy (odoo neutralize, Odoo.sh staging) sends no outgoing webhook.
-- Every endpoint is archived and loses its "Enabled on this copy" flag; what was waiting is cancelled
-- with the reason. The worker and "Send test" refuse to send while database.is_neutralized is set,
-- whatever is re-activated, until an administrator presses "Enable on this copy" on an endpoint.
UPDATE integration_webhook_endpoint
   SET active = false,
       send_on_neutralized = false;

UPDATE integration_webhook_delivery
   SET state = 'cancelled',
       next_attempt_at = NULL,
       claimed_until = NULL,
       error = 'Cancelled by the database neutralization (odoo neutralize): a staging or test copy sends nothing. Point the endpoint at a test receiver, press ''Enable on this copy'' on it, then Retry.'
 WHERE state IN ('pending', 'failed');
