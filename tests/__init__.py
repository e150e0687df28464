from . import test_json2
from . import test_api_doc
from . import test_outgoing_webhooks
from . import test_incoming_webhooks
from . import test_dashboard
from . import test_scenarios
from . import test_ui_tours
from . import test_security
