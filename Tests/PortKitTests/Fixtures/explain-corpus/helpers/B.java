import java.net.*; import java.nio.channels.*;
public class B { public static void main(String[] a) throws Exception {
  int p = Integer.parseInt(a[1]); String h = a.length > 2 ? a[2] : null;
  switch (a[0]) {
    case "ss": new ServerSocket(p, 50, h == null ? null : InetAddress.getByName(h)); break;
    case "ds": new DatagramSocket(h == null ? new InetSocketAddress(p) : new InetSocketAddress(h, p)); break;
    case "nio": ServerSocketChannel.open().bind(h == null ? new InetSocketAddress(p) : new InetSocketAddress(h, p)); break;
    case "http": com.sun.net.httpserver.HttpServer.create(new InetSocketAddress(p), 0); break;
  }}}
