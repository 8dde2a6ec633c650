using System.Net.Sockets;

namespace TcpStore.Akka.Connections;

/// <summary>Socket options applied to every accepted connection (<c>tcpstore.tcp</c>).</summary>
internal static class TcpSocketOptions
{
    /// <summary>
    /// Linux gives an accepted socket the listening socket's options (TCP_NODELAY and all keepalive settings: checked
    /// with getsockopt on accepted sockets), so there they are set once on the listener rather than with five system
    /// calls per connection; other systems set them on each accepted socket as well.
    /// </summary>
    public static bool InheritedFromListener => OperatingSystem.IsLinux();

    /// <summary>TCP_NODELAY, like PyTorch's libuv server, and keepalive with explicit timing, which neither sets.</summary>
    public static void Apply(Socket socket, ListenerSettings settings)
    {
        socket.NoDelay = settings.NoDelay;
        var keepAlive = settings.KeepAlive;
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, keepAlive.Enabled);
        if (!keepAlive.Enabled) return;
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, Seconds(keepAlive.Idle));
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, Seconds(keepAlive.Interval));
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, keepAlive.Probes);
    }

    private static int Seconds(TimeSpan span) => Math.Max(1, (int)Math.Ceiling(span.TotalSeconds));
}
