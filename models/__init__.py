from . import ir_http
from . import res_users
from . import res_users_apikeys
from . import integration_worker
from . import integration_webhook_endpoint
from . import integration_webhook_delivery
from . import ir_actions_server
