using System.Net;
using System.Net.Sockets;
using TcpStore.Akka.Connections;

namespace TcpStore.Akka.Tests.Connections;

/// <summary>
/// Where the listener binds when its address cannot be bound: the IPv6 wildcard (the default host) falls back to the
/// IPv4 wildcard on a host without IPv6, as PyTorch's libuv server does; nothing else falls back.
/// </summary>
public sealed class ListenerBindTests
{
    [Theory]
    [InlineData(SocketError.AddressFamilyNotSupported)]
    [InlineData(SocketError.AddressNotAvailable)]
    [InlineData(SocketError.ProtocolNotSupported)]
    [InlineData(SocketError.ProtocolFamilyNotSupported)]
    public void The_ipv6_wildcard_falls_back_to_the_ipv4_wildcard_on_the_same_port_without_ipv6(SocketError error) =>
        Assert.Equal(new IPEndPoint(IPAddress.Any, 29500),
            TcpStoreListener.IPv4FallbackFor(new IPEndPoint(IPAddress.IPv6Any, 29500), error));

    [Fact]
    public void A_port_in_use_is_never_hidden_by_a_fallback() =>
        Assert.Null(TcpStoreListener.IPv4FallbackFor(new IPEndPoint(IPAddress.IPv6Any, 29500), SocketError.AddressAlreadyInUse));

    [Theory]
    [InlineData("::1")]
    [InlineData("0.0.0.0")]
    [InlineData("127.0.0.1")]
    [InlineData("fd00::1")]
    public void An_address_that_was_asked_for_explicitly_never_falls_back(string address) =>
        Assert.Null(TcpStoreListener.IPv4FallbackFor(new IPEndPoint(IPAddress.Parse(address), 29500), SocketError.AddressFamilyNotSupported));

    [Fact]
    public void The_default_host_binds_the_ipv6_wildcard_dual_stack_where_the_host_has_ipv6()
    {
        Assert.True(Socket.OSSupportsIPv6, "this test machine has IPv6");
        var (listener, _) = SocketAcceptor.Bind(new IPEndPoint(IPAddress.IPv6Any, 0), 4);
        using (listener)
        {
            Assert.True(listener.DualMode);
            Assert.Equal(AddressFamily.InterNetworkV6, listener.AddressFamily);
        }
    }
}
