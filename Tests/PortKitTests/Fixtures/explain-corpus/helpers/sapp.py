from sanic import Sanic
from sanic.response import text
app = Sanic("i16h")
@app.get("/")
async def h(r): return text("ok")
