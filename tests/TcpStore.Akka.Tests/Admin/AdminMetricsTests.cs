using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using TcpStore.Akka.Status;
using TcpStore.Akka.Telemetry;
using TcpStore.Akka.Tests.Support;
using TcpStore.Akka.Tests.Telemetry;
using TcpStore.TestSupport;
using static TcpStore.TestSupport.Wire;

namespace TcpStore.Akka.Tests.Admin;

/// <summary>
/// <c>/metrics</c> as a Prometheus scraper reads it (OpenTelemetry's exporter) and <c>/status</c>'s error totals,
/// against a real server's traffic. In the metrics collection: the instruments are per process, so the differences
/// measured here are this test's alone.
/// </summary>
[Collection(MetricsCollection.Name)]
public abstract class AdminMetricsTests(string transport)
{
    private Task<AdminServer> StartServerAsync(string extraHocon = "") => AdminServer.StartAsync(extraHocon, transport: transport);

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Metrics_are_served_with_prometheus_names_types_labels_and_buckets()
    {
        await using var admin = await StartServerAsync("tcpstore.limits.max-connections = 1");
        var before = await ScrapeAsync(admin);

        await using (var client = await RawClient.ConnectAsync(admin.Store.Port))
        {
            await client.SendAsync(Set("m", "1"), Get("m"));
            Assert.Equal("1", await client.ReadStringAsync());
            await client.SendAsync(Add("n", 5));
            Assert.Equal(5, await client.ReadInt64Async());
            await using (var extra = await RawClient.ConnectAsync(admin.Store.Port, validate: false))
                Assert.True(await extra.ClosedByServerAsync()); // max-connections
            await client.SendAsync(Set("text", "abc"), Add("text", 1));
            Assert.True(await client.ClosedByServerAsync()); // add-not-a-number
        }

        PrometheusText after = before;
        Assert.True(await TestStoreServer.EventuallyAsync(async () =>
        {
            after = await ScrapeAsync(admin);
            return Delta("tcpstore_errors_total", ("reason", "add-not-a-number")) == 1 &&
                   after.Value("tcpstore_connections_open") == before.Value("tcpstore_connections_open");
        }, Timeout));

        // Every instrument, under the name OpenTelemetry's Prometheus naming gives it (dots → underscores, the unit as
        // a suffix, counters in _total), with its Prometheus type.
        foreach (var (name, type) in new[]
                 {
                     ("tcpstore_connections_open", "gauge"),
                     ("tcpstore_connections_accepted_total", "counter"),
                     ("tcpstore_connections_refused_total", "counter"),
                     ("tcpstore_connections_closed_for_cause_total", "counter"),
                     ("tcpstore_connections_accept_rate_per_second", "gauge"),
                     ("tcpstore_keys", "gauge"),
                     ("tcpstore_queue_items", "gauge"),
                     ("tcpstore_stored_bytes", "gauge"),
                     ("tcpstore_waiting_connections", "gauge"),
                     ("tcpstore_waiting_registrations", "gauge"),
                     ("tcpstore_operations_total", "counter"),
                     ("tcpstore_errors_total", "counter"),
                     ("tcpstore_operation_duration_seconds", "histogram"),
                 })
        {
            Assert.True(after.Types.TryGetValue(name, out var actual), $"no # TYPE line for {name}");
            Assert.Equal(type, actual);
        }

        // The numbers this traffic adds, with their labels.
        Assert.Equal(1, Delta("tcpstore_connections_accepted_total")); // a refused connection is not accepted
        Assert.Equal(1, Delta("tcpstore_connections_refused_total", ("reason", "max-connections")));
        Assert.Equal(1, Delta("tcpstore_connections_closed_for_cause_total", ("query", "Add"), ("reason", "add-not-a-number")));
        Assert.Equal(1, Delta("tcpstore_errors_total", ("reason", "max-connections")));
        Assert.Equal(2, Delta("tcpstore_operations_total", ("query", "Set")));
        Assert.Equal(1, Delta("tcpstore_operations_total", ("query", "Get")));
        Assert.Equal(2, Delta("tcpstore_operations_total", ("query", "Add"))); // the refused ADD was executed too
        Assert.Equal(3, Delta("tcpstore_keys")); // m, n, text
        Assert.Equal(("m" + "1" + "n" + "5" + "text" + "abc").Length, Delta("tcpstore_stored_bytes")); // ADD stores text
        Assert.Equal(
            "tcpstore_connections_closed_for_cause_total",
            Assert.Single(after.Samples, s => s.Labels.ContainsKey("query") && s.Labels.ContainsKey("reason")).Name);

        // The histogram: the instrument's advised bounds as `le`, cumulative counts, +Inf equal to _count.
        const string duration = "tcpstore_operation_duration_seconds";
        var buckets = after.Find(duration + "_bucket").ToList();
        var bounds = buckets.Select(b => b.Labels["le"]).ToList();
        Assert.Equal("+Inf", bounds[^1]);
        Assert.Equal(TcpStoreMetrics.OperationDuration.Advice!.HistogramBucketBoundaries!,
            bounds[..^1].Select(le => double.Parse(le, CultureInfo.InvariantCulture)));
        Assert.Equal(buckets.Select(b => b.Value).Order(), buckets.Select(b => b.Value));
        Assert.Equal(after.Value(duration + "_count"), buckets[^1].Value);
        // One per batch: the decoder may split or join pipelined requests.
        Assert.InRange(after.Value(duration + "_count") - before.Value(duration + "_count"), 2, 5);
        Assert.True(after.Value(duration + "_sum") > before.Value(duration + "_sum"));

        double Delta(string name, params (string Key, string Value)[] labels) =>
            after.Value(name, labels) - before.Value(name, labels);
    }

    [Fact]
    public async Task Metrics_hold_the_component_meter_alone_and_each_endpoint_serves_its_own()
    {
        using var otherMeter = new Meter("TcpStore.Akka.Tests.Other");
        otherMeter.CreateCounter<long>("other.requests").Add(1);
        await using var first = await StartServerAsync();
        await using var second = await StartServerAsync();
        otherMeter.CreateCounter<long>("other.late").Add(1);

        foreach (var admin in new[] { first, second })
        {
            // Each endpoint's Kestrel also records ASP.NET Core's own meters (connections, requests): none is exported.
            var metrics = await ScrapeAsync(admin);
            Assert.Contains("tcpstore_keys", metrics.Types.Keys);
            Assert.All(metrics.Samples, s =>
            {
                if (s.Name == "target_info") return; // the OpenTelemetry resource (service name, SDK)
                Assert.StartsWith("tcpstore_", s.Name, StringComparison.Ordinal);
                Assert.Equal(TcpStoreMetrics.MeterName, s.Labels["otel_scope_name"]);
            });
        }
    }

    [Fact]
    public async Task Status_reports_the_errors_counted_by_reason()
    {
        await using var admin = await StartServerAsync();
        var statusClient = new AdminStatusClient(admin.Http);
        var before = (await statusClient.GetStatusAsync(admin.Endpoint.BaseAddress)).Errors;

        await using (var bad = await RawClient.ConnectAsync(admin.Store.Port, validate: false))
        {
            await bad.SendAsync(Set("k", "v")); // no VALIDATE first
            Assert.True(await bad.ClosedByServerAsync());
        }

        IReadOnlyDictionary<string, long> after = before;
        Assert.True(await TestStoreServer.EventuallyAsync(async () =>
        {
            after = (await statusClient.GetStatusAsync(admin.Endpoint.BaseAddress)).Errors;
            return after.GetValueOrDefault("invalid-validate") - before.GetValueOrDefault("invalid-validate") == 1;
        }, Timeout));
        Assert.Equal(after.Keys.Order(StringComparer.Ordinal), after.Keys); // by reason, as the page lists them
        // /status totals the process's errors; the endpoint's exporter counts from the endpoint's start.
        Assert.Equal(1, (await ScrapeAsync(admin)).Value("tcpstore_errors_total", ("reason", "invalid-validate")));
    }

    private static async Task<PrometheusText> ScrapeAsync(AdminServer admin)
    {
        using var response = await admin.Http.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains("version=0.0.4", response.Content.Headers.ContentType.ToString());
        return PrometheusText.Parse(await response.Content.ReadAsStringAsync());
    }
}

/// <summary><see cref="AdminMetricsTests"/> over the epoll transport.</summary>
[Collection(MetricsCollection.Name)]
public sealed class AdminMetricsTestsOverEpoll() : AdminMetricsTests("epoll");

/// <summary><see cref="AdminMetricsTests"/> over the .NET sockets transport.</summary>
[Collection(MetricsCollection.Name)]
public sealed class AdminMetricsTestsOverSockets() : AdminMetricsTests("sockets");
