from . import dispatch
from . import controllers
from . import models
from .http_database import post_load
