using System.Net;
using TcpStore.Akka.Hosting;
using TcpStore.TestSupport;

namespace TcpStore.Akka.Interop.Tests;

/// <summary>
/// PyTorch 2.10's real client against several stores of one server (the TcpStoreManager): each job's ranks see only
/// their store's keys, and a removed store drops its waiting ranks as a dead PyTorch server would.
/// </summary>
public sealed class ManyStoresInteropTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private TestStoreServer _server = null!;
    private TcpStoreManagerClient _stores = null!;

    public async Task InitializeAsync()
    {
        _server = await TestStoreServer.StartAsync();
        _stores = TcpStoreManagerClient.For(_server.System);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<int> CreateAsync(string name) =>
        ((IPEndPoint)await _stores.CreateStoreAsync(name, new TcpStoreOptions { Host = "127.0.0.1", Port = 0 })).Port;

    [Fact]
    public async Task Two_jobs_rendezvous_with_the_same_keys_in_two_stores_and_never_see_each_other()
    {
        var jobA = await CreateAsync("job-a");
        var jobB = await CreateAsync("job-b");
        using var a0 = await TorchStore.ConnectAsync("127.0.0.1", jobA, Timeout, worldSize: 2, waitForWorkers: true);
        using var a1 = await TorchStore.ConnectAsync("127.0.0.1", jobA, Timeout, worldSize: 2, waitForWorkers: true);
        using var b0 = await TorchStore.ConnectAsync("127.0.0.1", jobB, Timeout, worldSize: 3, waitForWorkers: true);

        await a0.SetAsync("MASTER/config", "job-a");
        await b0.SetAsync("MASTER/config", "job-b");
        Assert.Equal(1, await a0.AddAsync("arrived", 1));
        Assert.Equal(2, await a1.AddAsync("arrived", 1));
        Assert.Equal(1, await b0.AddAsync("arrived", 1)); // the same key, another store

        Assert.Equal("job-a", await a1.GetStringAsync("MASTER/config"));
        Assert.Equal("job-b", await b0.GetStringAsync("MASTER/config"));
        Assert.Equal(["MASTER/config", "arrived"], (await a0.ListKeysAsync()).Order(StringComparer.Ordinal));
        Assert.Equal(3, await a0.GetNumKeysAsync()); // and init/, counted 2 by its two ranks
        Assert.Equal(3, await b0.GetNumKeysAsync());
    }

    [Fact]
    public async Task Removing_a_store_fails_its_waiting_rank_as_a_lost_server_would()
    {
        var port = await CreateAsync("job-ending");
        using var rank = await TorchStore.ConnectAsync("127.0.0.1", port, TimeSpan.FromSeconds(60));
        var waiting = rank.WaitAsync(["never-set"], TimeSpan.FromSeconds(60));
        Assert.True(await TestStoreServer.EventuallyAsync(async () =>
            (await _stores.ListStoresAsync()).Single(s => s.Name == "job-ending").WaitingConnections == 1,
            TimeSpan.FromSeconds(10)));

        Assert.True(await _stores.RemoveStoreAsync("job-ending"));

        var error = await Assert.ThrowsAsync<TorchStoreException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.DoesNotContain("timeout", error.Message, StringComparison.OrdinalIgnoreCase);
    }
}
