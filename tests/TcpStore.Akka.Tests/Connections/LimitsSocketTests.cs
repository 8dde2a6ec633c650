using Akka.Actor;
using TcpStore.Akka.Tests.Support;
using static TcpStore.Akka.Tests.Support.Wire;

namespace TcpStore.Akka.Tests.Connections;

/// <summary>Connection-level limits, each set low through HOCON and exceeded by one client only.</summary>
public sealed class LimitsSocketTests
{
    [Fact]
    public async Task Max_connections_closes_the_extra_connection_and_keeps_the_others()
    {
        await using var server = await TestStoreServer.StartAsync("tcpstore.limits.max-connections = 2");
        await using var first = await RawClient.ConnectAsync(server.Port);
        await using var second = await RawClient.ConnectAsync(server.Port);
        await first.SendAsync(Ping(1));
        await second.SendAsync(Ping(2));
        Assert.Equal(1u, await first.ReadUInt32Async());
        Assert.Equal(2u, await second.ReadUInt32Async());

        await using (var third = await RawClient.ConnectAsync(server.Port))
        {
            Assert.True(await third.ClosedByServerAsync());
        }

        await first.SendAsync(Ping(3));
        Assert.Equal(3u, await first.ReadUInt32Async());
        Assert.Equal(2, await server.ConnectionCountAsync());
    }

    [Fact]
    public async Task Max_key_bytes_from_hocon_closes_a_longer_key()
    {
        await using var server = await TestStoreServer.StartAsync("tcpstore.limits.max-key-bytes = 16");
        await using var ok = await RawClient.ConnectAsync(server.Port);
        await ok.SendAsync(Set(new string('k', 16), "v"), Get(new string('k', 16)));
        Assert.Equal("v", await ok.ReadStringAsync());
        await using var bad = await RawClient.ConnectAsync(server.Port);
        await bad.SendAsync(Set(new string('k', 17), "v"));
        Assert.True(await bad.ClosedByServerAsync());
    }

    [Fact]
    public async Task Max_buffered_bytes_closes_a_connection_whose_held_replies_grow_too_large()
    {
        await using var server = await TestStoreServer.StartAsync(
            "tcpstore.limits.max-buffered-bytes-per-connection = 4096");
        await using var setter = await RawClient.ConnectAsync(server.Port);
        await setter.SendAsync(Set("/big", new string('x', 1000)), Ping(0));
        await setter.ReadUInt32Async();

        await using var hog = await RawClient.ConnectAsync(server.Port);
        // Replies held behind an outstanding WAIT count against the connection's buffer.
        await hog.SendAsync(Wait("/never"), Get("/big"), Get("/big"), Get("/big"), Get("/big"), Get("/big"));
        Assert.True(await hog.ClosedByServerAsync());

        await setter.SendAsync(Get("/big"));
        Assert.Equal(1000, (await setter.ReadVectorAsync()).Length);
    }

    [Fact]
    public async Task Stopping_the_guardian_closes_connections_and_unbinds()
    {
        var server = await TestStoreServer.StartAsync();
        await using var client = await RawClient.ConnectAsync(server.Port);
        await client.SendAsync(Wait("/until-shutdown"));
        await server.Guardian.GracefulStop(TimeSpan.FromSeconds(5));
        Assert.True(await client.ClosedByServerAsync());
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(
            async () => await RawClient.ConnectAsync(server.Port));
        await server.DisposeAsync();
    }
}
