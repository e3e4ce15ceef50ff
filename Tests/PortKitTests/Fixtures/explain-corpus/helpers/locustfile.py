import locust
class U(locust.HttpUser):
    host="http://127.0.0.1:1"
    @locust.task
    def t(self): pass
