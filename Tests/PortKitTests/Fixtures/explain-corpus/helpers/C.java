public class C { public static void main(String[] a) throws Exception { new java.net.Socket("127.0.0.1", 5555); } }
