from . import floor
from . import sync
