from . import webhook
from . import portal
from . import tracking
from . import metrics
from . import api
from . import api_subscriptions
