use Mojolicious::Lite;
get "/" => {text => "ok"};
app->start;
