from ..series import V19

if V19:
    from . import json2_native  # 19.0's own /json/2, extended
else:
    from . import json2  # 19.0's /json/2 contract on 18.0
    from . import version  # 19.0's /web/version and /json/version (native on 19.0)
from . import doc
from . import incoming_webhook
from . import demo_echo
from . import legacy_rpc
from . import metrics
