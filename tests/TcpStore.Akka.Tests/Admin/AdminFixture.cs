using TcpStore.Akka.Admin;
using TcpStore.Akka.Status;
using TcpStore.TestSupport;

namespace TcpStore.Akka.Tests.Admin;

/// <summary>An in-process server with its admin endpoint on 127.0.0.1 and a free port, and an HttpClient for it.</summary>
public sealed class AdminServer : IAsyncDisposable
{
    private AdminServer(TestStoreServer store, AdminEndpoint endpoint)
    {
        Store = store;
        Endpoint = endpoint;
        Http = new HttpClient { BaseAddress = endpoint.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public TestStoreServer Store { get; }
    public AdminEndpoint Endpoint { get; }
    public HttpClient Http { get; }

    public static async Task<AdminServer> StartAsync(string extraHocon = "", AdminSettings? settings = null,
        string? transport = null)
    {
        var store = await TestStoreServer.StartAsync(extraHocon, transport);
        try
        {
            var endpoint = await AdminEndpoint.StartAsync(store.System, settings ?? AdminSettings.Default with { Enabled = true });
            return new AdminServer(store, endpoint);
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until the store counts <paramref name="connections"/> waiting connections.</summary>
    public async Task WaitForWaitersAsync(int connections) =>
        Assert.True(await TestStoreServer.EventuallyAsync(
            async () => (await Store.StatsAsync()).WaitingConnections == connections, TimeSpan.FromSeconds(10)));

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Endpoint.DisposeAsync();
        await Store.DisposeAsync();
    }
}
