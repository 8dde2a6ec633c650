using System.Net;
using System.Text.Json;
using Akka.Actor;
using TcpStore.Akka.Hosting;
using TcpStore.Akka.Status;
using TcpStore.TestSupport;
using static TcpStore.TestSupport.Wire;

namespace TcpStore.Akka.Tests.Admin;

/// <summary>The admin endpoint over real HTTP on loopback, against a real server with real socket clients.</summary>
public abstract class AdminEndpointTests(string transport)
{
    private Task<AdminServer> StartServerAsync(string extraHocon = "") => AdminServer.StartAsync(extraHocon, transport: transport);

    [Fact]
    public async Task Status_names_each_awaited_key_with_its_waiting_count_and_peers()
    {
        await using var admin = await StartServerAsync();
        await using var writer = await RawClient.ConnectAsync(admin.Store.Port);
        await writer.SendAsync(Set("barrier", "2"), Set("init/", "3"));
        var waiters = new List<RawClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var w = await RawClient.ConnectAsync(admin.Store.Port);
                waiters.Add(w);
                await w.SendAsync(i == 0 ? Wait("barrier/last_worker", "rank/3/ready") : Wait("barrier/last_worker"));
            }
            await admin.WaitForWaitersAsync(3);

            var report = await new AdminStatusClient(admin.Http).GetStatusAsync(admin.Endpoint.BaseAddress);
            Assert.Equal($"127.0.0.1:{admin.Store.Port}", report.Address);
            Assert.Equal(4, report.Numbers.OpenConnections);
            Assert.Equal(3, report.Numbers.WaitingConnections);
            Assert.Equal(4, report.Numbers.WaiterRegistrations);
            Assert.Equal(2, report.Awaited.Total);

            var barrier = report.Awaited.Items[0];
            Assert.Equal(("barrier/last_worker", 3), (barrier.Key, barrier.Waiting));
            var peers = waiters.Select(w => w.Socket.LocalEndPoint!.ToString()!).ToList();
            // In the order the WAITs reached the store, which need not be the order they were sent on three sockets.
            Assert.Equal(peers.Order(StringComparer.Ordinal), barrier.Peers.Order(StringComparer.Ordinal));
            Assert.False(barrier.PeersTruncated);
            var rank3 = report.Awaited.Items[1];
            Assert.Equal(("rank/3/ready", 1), (rank3.Key, rank3.Waiting));
            Assert.Equal([peers[0]], rank3.Peers);

            Assert.Equal(2, report.Keys.Total);
            Assert.Equal([("barrier", 1, "2"), ("init/", 1, "3")], report.Keys.Items.Select(k => (k.Key, k.Bytes, k.Value)));

            var text = AdminStatusClient.Format(report);
            Assert.Contains($"barrier/last_worker\t3\t{string.Join(' ', barrier.Peers)}\n", text);
            Assert.Contains($"rank/3/ready\t1\t{peers[0]}\n", text);
            Assert.Contains("waiting: 3 connections, 4 registrations on 2 keys", text);

            // The key arrives: its waiters leave the list.
            await writer.SendAsync(Set("barrier/last_worker", "1"));
            for (var i = 1; i < 3; i++) Assert.Equal(0, await waiters[i].ReadByteAsync()); // STOP_WAITING
            report = await new AdminStatusClient(admin.Http).GetStatusAsync(admin.Endpoint.BaseAddress);
            Assert.Equal(["rank/3/ready"], report.Awaited.Items.Select(k => k.Key));
        }
        finally
        {
            foreach (var w in waiters) await w.DisposeAsync();
        }
    }

    [Fact]
    public async Task Status_lists_each_barrier_in_progress_with_arrived_expected_and_who_waits()
    {
        await using var admin = await StartServerAsync();
        var arrivals = new List<RawClient>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                var a = await RawClient.ConnectAsync(admin.Store.Port);
                arrivals.Add(a);
                await a.SendAsync(Barrier("epoch/7", 4));
            }
            await admin.WaitForWaitersAsync(2);

            var report = await new AdminStatusClient(admin.Http).GetStatusAsync(admin.Endpoint.BaseAddress);
            var barrier = Assert.Single(report.Barriers.Items);
            Assert.Equal(("epoch/7", (long?)2, 4L, 2), (barrier.Key, barrier.Arrived, barrier.Expected, barrier.Waiting));
            var peers = arrivals.Select(a => a.Socket.LocalEndPoint!.ToString()!).Order(StringComparer.Ordinal);
            Assert.Equal(peers, barrier.Peers.Order(StringComparer.Ordinal));
            Assert.Empty(report.Awaited.Items); // a barrier's arrivals are not plain WAITs
            Assert.Contains($"epoch/7\t2/4\t2\t", AdminStatusClient.Format(report));

            await using var last = await RawClient.ConnectAsync(admin.Store.Port);
            await last.SendAsync(Barrier("epoch/7", 3)); // this arrival's world size is 3: it releases everyone
            Assert.Equal(0, await last.ReadByteAsync());
            foreach (var a in arrivals) Assert.Equal(0, await a.ReadByteAsync());
            report = await new AdminStatusClient(admin.Http).GetStatusAsync(admin.Endpoint.BaseAddress);
            Assert.Equal(0, report.Barriers.Total);
        }
        finally
        {
            foreach (var a in arrivals) await a.DisposeAsync();
        }
    }

    [Fact]
    public async Task Stores_are_listed_created_shown_and_removed_through_the_endpoint()
    {
        await using var admin = await AdminServer.StartAsync(settings: AdminSettings.Default with { Enabled = true, StoreManagement = true });
        var client = new AdminStatusClient(admin.Http);
        var created = await client.CreateStoreAsync(admin.Endpoint.BaseAddress, "job-7");
        var port = int.Parse(created[(created.LastIndexOf(':') + 1)..]);
        await using (var rank = await RawClient.ConnectAsync(port))
        {
            await rank.SendAsync(Set("job/7/addr", "node-3"), Ping(1));
            Assert.Equal(1u, await rank.ReadUInt32Async()); // the SET is done (the status below raced it)
        }

        var stores = await client.ListStoresAsync(admin.Endpoint.BaseAddress);
        Assert.Equal(["default", "job-7"], stores.Select(s => s.Name));
        var job = await client.GetStatusAsync(admin.Endpoint.BaseAddress, store: "job-7");
        Assert.Equal([("job/7/addr", "node-3")], job.Keys.Items.Select(k => (k.Key, k.Value)));
        Assert.Equal(0, (await client.GetStatusAsync(admin.Endpoint.BaseAddress)).Keys.Total); // the default store is apart

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => client.CreateStoreAsync(admin.Endpoint.BaseAddress, "job-7"));
        Assert.Contains("exists", refused.Message);
        Assert.True(await client.RemoveStoreAsync(admin.Endpoint.BaseAddress, "job-7"));
        Assert.False(await client.RemoveStoreAsync(admin.Endpoint.BaseAddress, "job-7"));
        using var gone = await admin.Http.GetAsync("status?store=job-7");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task Store_management_is_off_unless_turned_on()
    {
        await using var admin = await AdminServer.StartAsync();
        var client = new AdminStatusClient(admin.Http);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => client.CreateStoreAsync(admin.Endpoint.BaseAddress, "job-1"));
        Assert.Contains("store-management = off", refused.Message);
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.RemoveStoreAsync(admin.Endpoint.BaseAddress, "default"));
        Assert.Equal(["default"], (await client.ListStoresAsync(admin.Endpoint.BaseAddress)).Select(s => s.Name));
    }

    [Fact]
    public async Task Keys_are_paged_sized_and_shown_as_escaped_text()
    {
        await using var admin = await StartServerAsync();
        await using var client = await RawClient.ConnectAsync(admin.Store.Port);
        await client.SendAsync(
            Set("k0", "a"), Set("k1", new string('x', 1000)), Set("k2", "c"), Set("k3", [0xff, 0x00]), Cat([1], Str(Cat(B("k4"), [0x01])), Str("e")),
            QueuePush("jobs", "1"), Ping(1));
        await client.ReadUInt32Async();

        var statusClient = new AdminStatusClient(admin.Http);
        var page = (await statusClient.GetStatusAsync(admin.Endpoint.BaseAddress, offset: 1, limit: 3)).Keys;
        Assert.Equal((5, 1, 3), (page.Total, page.Offset, page.Limit));
        Assert.Equal(["k1", "k2", "k3"], page.Items.Select(k => k.Key));
        Assert.Equal([1000, 1, 2], page.Items.Select(k => k.Bytes));
        Assert.Null(page.Items[0].Value); // longer than value-preview-bytes
        Assert.Null(page.Items[2].Value); // not printable

        var last = await statusClient.GetStatusAsync(admin.Endpoint.BaseAddress, offset: 4, limit: 10);
        Assert.Equal(@"k4\x01", Assert.Single(last.Keys.Items).Key);
        Assert.Equal(("jobs", 1), (last.Queues.Items[0].Name, last.Queues.Items[0].Items));
        Assert.True(last.Operations["Set"] >= 5);

        // Limits above max-page-size are clamped.
        using var json = JsonDocument.Parse(await admin.Http.GetStringAsync("status?limit=100000"));
        Assert.Equal(AdminSettings.Default.MaxPageSize, json.RootElement.GetProperty("keys").GetProperty("limit").GetInt32());
    }

    [Fact]
    public async Task Healthz_reports_both_checks_and_fails_when_the_store_stops_answering()
    {
        await using var admin = await StartServerAsync("tcpstore.health.store-timeout = 500ms");
        using (var ok = await admin.Http.GetAsync("healthz"))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            using var body = JsonDocument.Parse(await ok.Content.ReadAsStringAsync());
            Assert.Equal("Healthy", body.RootElement.GetProperty("status").GetString());
            var checks = body.RootElement.GetProperty("checks");
            Assert.Equal("Healthy", checks.GetProperty(TcpStoreHealthChecks.ListenerCheckName).GetProperty("status").GetString());
            Assert.Equal("Healthy", checks.GetProperty(TcpStoreHealthChecks.StoreCheckName).GetProperty("status").GetString());
        }

        admin.Store.Store.Tell(PoisonPill.Instance);
        using var failing = await admin.Http.GetAsync("healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, failing.StatusCode);
        Assert.Contains("did not answer", await failing.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_page_is_served_and_the_endpoint_binds_loopback_by_default()
    {
        await using var admin = await StartServerAsync();
        Assert.Equal("127.0.0.1", admin.Endpoint.BaseAddress.Host);
        using var response = await admin.Http.GetAsync("");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("<title>TcpStore status</title>", html);
        Assert.Contains("fetch(q", html);
    }
}

/// <summary><see cref="AdminEndpointTests"/> over the epoll transport.</summary>
public sealed class AdminEndpointTestsOverEpoll() : AdminEndpointTests("epoll");

/// <summary><see cref="AdminEndpointTests"/> over the .NET sockets transport.</summary>
public sealed class AdminEndpointTestsOverSockets() : AdminEndpointTests("sockets");
