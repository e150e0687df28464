from . import test_json2
