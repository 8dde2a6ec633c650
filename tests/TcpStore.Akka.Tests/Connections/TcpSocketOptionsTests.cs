using System.Net;
using System.Net.Sockets;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Hosting;
using TcpStore.Akka.Configuration;

namespace TcpStore.Akka.Tests.Connections;

/// <summary>Where the system gives accepted sockets the listener's options, the listener's are the connection's.</summary>
public sealed class TcpSocketOptionsTests
{
    [Theory]
    [InlineData(true, 5, 2, 3)]
    [InlineData(false, 7, 11, 4)]
    public void Accepted_sockets_carry_the_options_set_on_the_listener(bool noDelay, int idle, int interval, int probes)
    {
        if (!TcpSocketOptions.InheritedFromListener) return; // set on each accepted socket there
        var options = new TcpStoreOptions
        {
            NoDelay = noDelay,
            KeepAlive = true,
            KeepAliveIdle = TimeSpan.FromSeconds(idle),
            KeepAliveInterval = TimeSpan.FromSeconds(interval),
            KeepAliveProbes = probes,
        };
        var settings = TcpStoreSettings.Create(options.ToConfig().GetConfig(TcpStoreSettings.ConfigPath)).Listener;
        var (listener, _) = SocketAcceptor.Bind(new IPEndPoint(IPAddress.Loopback, 0), 4);
        using (listener)
        {
            TcpSocketOptions.Apply(listener, settings);
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(listener.LocalEndPoint!);
            using var accepted = listener.Accept();

            Assert.Equal(noDelay, accepted.NoDelay);
            Assert.Equal(1, (int)accepted.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)!);
            Assert.Equal(idle, (int)accepted.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime)!);
            Assert.Equal(interval, (int)accepted.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval)!);
            Assert.Equal(probes, (int)accepted.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount)!);
        }
    }
}
