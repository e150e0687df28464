from . import json2
from . import version
from . import doc
from . import incoming_webhook
from . import demo_echo
from . import legacy_rpc
from . import metrics
