using Akka.Actor;
using TcpStore.TestSupport;
using static TcpStore.TestSupport.Wire;

namespace TcpStore.Akka.Tests.Connections;

/// <summary>Connection-level limits, each set low through HOCON and exceeded by one client only.</summary>
public abstract class LimitsSocketTests(string transport)
{
    private Task<TestStoreServer> StartServerAsync(string extraHocon = "") => TestStoreServer.StartAsync(extraHocon, transport);

    [Fact]
    public async Task Max_connections_closes_the_extra_connection_and_keeps_the_others()
    {
        await using var server = await StartServerAsync("tcpstore.limits.max-connections = 2");
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
        await using var server = await StartServerAsync("tcpstore.limits.max-key-bytes = 16");
        await using var ok = await RawClient.ConnectAsync(server.Port);
        await ok.SendAsync(Set(new string('k', 16), "v"), Get(new string('k', 16)));
        Assert.Equal("v", await ok.ReadStringAsync());
        await using var bad = await RawClient.ConnectAsync(server.Port);
        await bad.SendAsync(Set(new string('k', 17), "v"));
        Assert.True(await bad.ClosedByServerAsync());
    }

    [Fact]
    public async Task Max_buffered_bytes_closes_a_connection_whose_replies_exceed_it()
    {
        await using var server = await StartServerAsync(
            "tcpstore.limits.max-buffered-bytes-per-connection = 4096");
        await using var setter = await RawClient.ConnectAsync(server.Port);
        await setter.SendAsync(Set("/big", new string('x', 1000)), Ping(0));
        await setter.ReadUInt32Async();

        await using var hog = await RawClient.ConnectAsync(server.Port);
        // One MULTI_GET whose reply (5 x 1000 bytes) is larger than the connection may buffer.
        await hog.SendAsync(MultiGet("/big", "/big", "/big", "/big", "/big"));
        Assert.True(await hog.ClosedByServerAsync());

        await setter.SendAsync(Get("/big"));
        Assert.Equal(1000, (await setter.ReadVectorAsync()).Length);
    }

    [Fact]
    public async Task Stopping_the_guardian_closes_connections_and_unbinds()
    {
        var server = await StartServerAsync();
        await using var client = await RawClient.ConnectAsync(server.Port);
        await client.SendAsync(Wait("/until-shutdown"));
        await server.Guardian.GracefulStop(TimeSpan.FromSeconds(5));
        Assert.True(await client.ClosedByServerAsync());
        // Unbinding completes asynchronously after the listener stopped.
        Assert.True(await TestStoreServer.EventuallyAsync(async () =>
        {
            try
            {
                await using var late = await RawClient.ConnectAsync(server.Port);
                return false;
            }
            catch (System.Net.Sockets.SocketException)
            {
                return true;
            }
        }, TimeSpan.FromSeconds(10)));
        await server.DisposeAsync();
    }

    /// <summary>
    /// Clients that connect while the store stops are closed too: a socket accepted a moment before the stop, still
    /// on its way to a connection host, must not stay open with nobody serving it.
    /// </summary>
    [Fact]
    public async Task Every_connection_accepted_around_a_stop_is_closed()
    {
        for (var round = 0; round < 5; round++)
        {
            var server = await TestStoreServer.StartAsync();
            var connecting = Enumerable.Range(0, 100).Select(async _ =>
            {
                try
                {
                    var client = await RawClient.ConnectAsync(server.Port);
                    await client.SendAsync(Wait("/until-shutdown"));
                    return client;
                }
                catch (System.Net.Sockets.SocketException)
                {
                    return null; // refused after the listener closed: nothing to close
                }
                catch (IOException)
                {
                    return null; // closed while it sent: closed, as it should be
                }
            }).ToList();
            await Task.Delay(round * 3); // stop at a different moment of the connects each round
            await server.Guardian.GracefulStop(TimeSpan.FromSeconds(5));
            foreach (var client in await Task.WhenAll(connecting))
            {
                if (client is null) continue;
                Assert.True(await client.ClosedByServerAsync(TimeSpan.FromSeconds(10)), $"round {round}: a connection stayed open");
                await client.DisposeAsync();
            }
            await server.DisposeAsync();
        }
    }
}

/// <summary><see cref="LimitsSocketTests"/> over the epoll transport.</summary>
public sealed class LimitsSocketTestsOverEpoll() : LimitsSocketTests("epoll");

/// <summary><see cref="LimitsSocketTests"/> over the .NET sockets transport.</summary>
public sealed class LimitsSocketTestsOverSockets() : LimitsSocketTests("sockets");
