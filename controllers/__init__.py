from . import json2
from . import version
from . import doc
