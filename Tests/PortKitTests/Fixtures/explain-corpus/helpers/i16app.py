async def app(scope, receive, send):
    pass
def wsgi(environ, start_response):
    start_response("200 OK", []); return [b""]
