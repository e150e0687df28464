from . import ir_http
from . import res_users
from . import res_users_apikeys
from . import integration_worker
