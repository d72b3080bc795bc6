from . import partner
from . import models
