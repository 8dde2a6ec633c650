using System.Net.Sockets;
using Akka.Actor;
using TcpStore.Akka.Store;
using TcpStore.TestSupport;
using static TcpStore.TestSupport.Wire;

namespace TcpStore.Akka.Tests.Connections;

/// <summary>
/// Connections share a few stream actors (<c>tcpstore.tcp.connection-hosts</c> with the sockets transport, one per
/// event loop with epoll): sockets are dealt to them in turn, and a connection that fails or ends in one of them
/// leaves the other connections of that actor untouched.
/// </summary>
public abstract class ConnectionHostTests(string transport)
{
    private Task<TestStoreServer> StartServerAsync(string extraHocon = "") => TestStoreServer.StartAsync(extraHocon, transport);

    /// <summary>The setting that gives the listener <paramref name="hosts"/> connection hosts on this transport.</summary>
    private string Hosts(int hosts) => transport == "epoll"
        ? $"tcpstore.tcp.event-loops.count = {hosts}"
        : $"tcpstore.tcp.connection-hosts = {hosts}";

    /// <summary>The listener's stream actors besides the hosts: the accept stream (both transports).</summary>
    private const int AcceptorStreams = 1;

    private const byte StopWaiting = 0;

    [Fact]
    public async Task Connections_of_one_host_fail_and_end_alone()
    {
        await using var server = await StartServerAsync($"""
            {Hosts(1)}
            tcpstore.limits.max-value-bytes = 1024
            akka.loglevel = ERROR
            """);
        await using var waiter = await RawClient.ConnectAsync(server.Port);
        await using var reader = await RawClient.ConnectAsync(server.Port);
        await waiter.SendAsync(Wait("/host/go"));
        await reader.SendAsync(Set("/host/kept", "value"), Get("/host/kept"));
        Assert.Equal("value", await reader.ReadStringAsync());

        // In the same host: a protocol violation, a value over the limit, an unknown query type, a reset, a FIN.
        await using (var violation = await RawClient.ConnectAsync(server.Port, validate: false))
        {
            await violation.SendAsync([0x00, 0xde, 0xad, 0xbe, 0xef]);
            Assert.True(await violation.ClosedByServerAsync());
        }

        await using (var oversized = await RawClient.ConnectAsync(server.Port))
        {
            await oversized.SendAsync(Set("/host/big", new byte[2048]));
            Assert.True(await oversized.ClosedByServerAsync());
        }

        await using (var unknown = await RawClient.ConnectAsync(server.Port))
        {
            await unknown.SendAsync([0xee]);
            Assert.True(await unknown.ClosedByServerAsync());
        }

        await using (var reset = await RawClient.ConnectAsync(server.Port))
        {
            await reset.SendAsync(Wait("/host/never"));
            reset.Socket.LingerState = new LingerOption(true, 0); // close sends RST
        }

        await using (var finished = await RawClient.ConnectAsync(server.Port))
            await finished.SendAsync(Ping(7));

        Assert.True(await TestStoreServer.EventuallyAsync(async () => await server.ConnectionCountAsync() == 2,
            TimeSpan.FromSeconds(10)), "the five short-lived connections were not all cleaned up");

        // The two survivors still work, the WAIT registered before the failures included.
        await reader.SendAsync(Get("/host/kept"), Set("/host/go", "now"));
        Assert.Equal("value", await reader.ReadStringAsync());
        Assert.Equal(StopWaiting, await waiter.ReadByteAsync());
        await using var late = await RawClient.ConnectAsync(server.Port);
        await late.SendAsync(Get("/host/go"));
        Assert.Equal("now", await late.ReadStringAsync());
    }

    [Fact]
    public async Task Connections_run_in_the_configured_number_of_stream_actors()
    {
        const int hosts = 3;
        await using var server = await StartServerAsync(Hosts(hosts));
        var clients = new List<RawClient>();
        try
        {
            await OpenAsync(server, clients, 4 * hosts);

            // The listener's stream actors: one per host and the acceptor, however many
            // connections are open.
            var streams = await StreamActorsAsync(server);
            Assert.Equal(AcceptorStreams + hosts, streams.Count);
            Assert.Equal(4 * hosts, await server.ConnectionCountAsync());
        }
        finally
        {
            foreach (var client in clients) await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_host_lets_go_of_the_connections_that_ended()
    {
        await using var server = await StartServerAsync(Hosts(1) + "\nakka.loglevel = ERROR");
        var ended = await ConnectWaitAndCloseAsync(server, 200);
        Assert.True(await TestStoreServer.EventuallyAsync(async () => await server.ConnectionCountAsync() == 0,
            TimeSpan.FromSeconds(10)), "the connections were not all cleaned up");

        // Each connection's identity (its stage actor) is referenced by its stages; once the host dropped the
        // finished connections' interpreter shells, nothing holds them. A few may still sit in a mailbox.
        var alive = 0;
        for (var attempt = 0; attempt < 50; attempt++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            alive = ended.Count(w => w.IsAlive);
            if (alive <= 10) break;
            await Task.Delay(100);
        }

        Assert.True(alive <= 10, $"{alive} of {ended.Count} ended connections are still reachable");
    }

    /// <summary>
    /// Opens <paramref name="count"/> connections that each WAIT (so the store lists them), takes weak references
    /// to the refs the store knows them by, and closes them all.
    /// </summary>
    private static async Task<List<WeakReference>> ConnectWaitAndCloseAsync(TestStoreServer server, int count)
    {
        var clients = new List<RawClient>();
        try
        {
            await OpenAsync(server, clients, count, Wait("/ended/never"));

            var waiters = await server.Store.Ask<StoreProtocol.Waiters>(
                new StoreProtocol.GetWaiters(MaxConnectionsPerKey: count), TimeSpan.FromSeconds(5));
            var refs = Assert.Single(waiters.Keys).Connections.Select(c => new WeakReference(c)).ToList();
            Assert.Equal(count, refs.Count);
            return refs;
        }
        finally
        {
            foreach (var client in clients) await client.DisposeAsync();
        }
    }

    /// <summary>
    /// Opens <paramref name="count"/> connections into <paramref name="clients"/>, each sending
    /// <paramref name="requests"/> and a PING, and returns once every one was answered (so the server runs them all).
    /// </summary>
    private static async Task OpenAsync(TestStoreServer server, List<RawClient> clients, int count, params byte[][] requests)
    {
        for (var i = 0; i < count; i++)
        {
            var client = await RawClient.ConnectAsync(server.Port);
            clients.Add(client);
            await client.SendAsync([.. requests, Ping(1)]);
            Assert.Equal(1u, await client.ReadUInt32Async());
        }
    }

    /// <summary>The names of the stream actors under the listener's materializer (function refs left out).</summary>
    private static async Task<List<string>> StreamActorsAsync(TestStoreServer server)
    {
        var inbox = Inbox.Create(server.System);
        server.System.ActorSelection(server.Listener.Path / "StreamSupervisor-*" / "*").Tell(new Identify(null), inbox.Receiver);
        var names = new List<string>();
        try
        {
            while (true)
            {
                // Every stream actor answers within the first second on a test machine; silence after that ends it.
                if (await inbox.ReceiveAsync(TimeSpan.FromSeconds(1)) is ActorIdentity { Subject: { } actor })
                    names.Add(actor.Path.Name);
            }
        }
        catch (TimeoutException)
        {
        }

        return names;
    }
}

/// <summary><see cref="ConnectionHostTests"/> over the epoll transport.</summary>
public sealed class ConnectionHostTestsOverEpoll() : ConnectionHostTests("epoll");

/// <summary><see cref="ConnectionHostTests"/> over the .NET sockets transport.</summary>
public sealed class ConnectionHostTestsOverSockets() : ConnectionHostTests("sockets");
