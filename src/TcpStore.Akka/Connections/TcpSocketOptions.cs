using System.Collections.Immutable;
using System.Net.Sockets;
using Akka.IO;
using TcpStore.Akka.Hosting;

namespace TcpStore.Akka.Connections;

/// <summary>Socket options applied to every accepted connection.</summary>
internal static class TcpSocketOptions
{
    public static IImmutableList<Inet.SocketOption> For(TcpStoreSettings settings) =>
        ImmutableList.Create<Inet.SocketOption>(new AcceptedSocketOptions(settings.NoDelay, settings.KeepAlive));

    /// <summary>
    /// TCP_NODELAY and keepalive with explicit timing. Akka's own options cover neither the keepalive timers nor
    /// both in one place; they must be set after accept, on the connected socket.
    /// </summary>
    private sealed class AcceptedSocketOptions(bool noDelay, KeepAliveSettings keepAlive) : Inet.SocketOption
    {
        public override void AfterConnect(Socket socket)
        {
            socket.NoDelay = noDelay;
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, keepAlive.Enabled);
            if (!keepAlive.Enabled) return;
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, Seconds(keepAlive.Idle));
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval,
                Seconds(keepAlive.Interval));
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, keepAlive.Probes);
        }

        private static int Seconds(TimeSpan span) => Math.Max(1, (int)Math.Ceiling(span.TotalSeconds));
    }
}
