using System.Net;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Hosting;
using TcpStore.Akka.Status;
using TcpStore.Akka.Store;
using TcpStore.Akka.Telemetry;

namespace TcpStore.Akka.Admin;

/// <summary>
/// The admin HTTP endpoint of one TcpStore: a small Kestrel server on <c>tcpstore.admin.host</c>:<c>port</c>
/// (loopback by default) with <c>/healthz</c>, <c>/metrics</c> (Prometheus text, written by OpenTelemetry's
/// Prometheus exporter from the <see cref="TcpStoreMetrics.MeterName"/> meter), <c>/status</c> (JSON, see
/// <see cref="StatusReport"/>) and <c>/</c> (an HTML page that renders <c>/status</c> and refreshes itself).
/// Started by <see cref="AdminHostingExtensions.AddTcpStoreAdmin"/> in a generic host, or directly with
/// <see cref="StartAsync"/>.
/// </summary>
public sealed class AdminEndpoint : IAsyncDisposable
{
    private static readonly Lazy<byte[]> StatusPage = new(() =>
    {
        using var stream = typeof(AdminEndpoint).Assembly.GetManifestResourceStream("TcpStore.Akka.Admin.status-page.html")
                           ?? throw new InvalidOperationException("the status page resource is missing");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    private readonly WebApplication _app;
    private readonly MeterProvider _meterProvider;

    private AdminEndpoint(WebApplication app, MeterProvider meterProvider, Uri baseAddress)
    {
        _app = app;
        _meterProvider = meterProvider;
        BaseAddress = baseAddress;
    }

    /// <summary>Where the endpoint listens, e.g. <c>http://127.0.0.1:29510/</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary>The bound port (the real one when <c>tcpstore.admin.port</c> is 0).</summary>
    public int Port => BaseAddress.Port;

    /// <summary>
    /// Starts the endpoint for the TcpStore running in <paramref name="system"/> (started by <c>WithTcpStore</c>: its
    /// guardian is found in the <see cref="ActorRegistry"/>). <paramref name="health"/> runs the host's health checks; without it,
    /// <c>/healthz</c> runs <see cref="TcpStoreHealthChecks"/> directly. <paramref name="settings"/> overrides
    /// <c>tcpstore.admin</c> (its <c>Enabled</c> is not looked at here).
    /// </summary>
    public static async Task<AdminEndpoint> StartAsync(
        ActorSystem system,
        AdminSettings? settings = null,
        Func<CancellationToken, Task<HealthReport>>? health = null,
        ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default)
    {
        var storeSettings = TcpStoreSettings.Create(system);
        if (settings is not null) storeSettings = storeSettings with { Admin = settings };
        var admin = storeSettings.Admin;
        var registry = ActorRegistry.For(system);
        var manager = registry.Get<TcpStoreManager>();
        var stores = new TcpStoreManagerClient(manager);
        health ??= ct => RunTcpStoreChecksAsync(system, registry, ct);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (loggerFactory is not null)
        {
            builder.Logging.AddProvider(new ForwardingLoggerProvider(loggerFactory));
            // One line per request at Information would drown the store's own log (the page polls), and the
            // inner host's start-up lines repeat the outer host's.
            builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        }
        // The outer host owns Ctrl-C and SIGTERM; this one is stopped by DisposeAsync.
        builder.Services.AddSingleton<IHostLifetime, PassiveLifetime>();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(ParseAddress(admin.Host), admin.Port));

        var app = builder.Build();
        // A provider of the endpoint's own, not one in the host's services: it exports the component's meter and no
        // other (a host's ASP.NET Core or runtime meters stay out, whatever the host configures), and several
        // endpoints in one process (tests) each have theirs. Its counters count from the endpoint's start.
        var meterProvider = Sdk.CreateMeterProviderBuilder()
            .AddMeter(TcpStoreMetrics.MeterName)
            .AddPrometheusExporter(prometheus =>
            {
                // Every scrape collects afresh (the default caches a response for 300 ms), so /metrics read right
                // after an event shows it. Concurrent scrapes still share one collection.
                prometheus.ScrapeResponseCacheDurationMilliseconds = 0;
            })
            .Build();
        app.MapGet("/", () => Results.Bytes(StatusPage.Value, "text/html; charset=utf-8"));
        app.MapGet("/status", async (HttpContext http, int? offset, int? limit, string? store) =>
        {
            var name = store ?? TcpStoreManager.DefaultStoreName;
            if (await manager.Ask(new TcpStoreManager.GetStore(name), AskTimeout, http.RequestAborted) is not TcpStoreManager.StoreInfo info)
                return Results.NotFound(new { error = $"no store named \"{name}\"" });
            var collector = new StatusCollector(info.Components.Store, info.Components.Listener, info.Settings with { Admin = admin }, name);
            return Results.Json(await collector.CollectAsync(offset ?? 0, limit, http.RequestAborted), AdminStatusClient.JsonOptions);
        });
        // Not (HttpContext) => ...: that lambda binds to the RequestDelegate overload, which drops the result.
        app.MapGet("/stores", async (CancellationToken aborted) =>
            Results.Json((await stores.ListStoresAsync(aborted)).Select(StoreJson.Of).ToList(), AdminStatusClient.JsonOptions));
        // Creating a store binds a port: only when the operator turned it on (tcpstore.admin.store-management).
        var managementOff = Results.Json(
            new { error = "store management is off on this endpoint (tcpstore.admin.store-management = off)" },
            AdminStatusClient.JsonOptions, statusCode: StatusCodes.Status403Forbidden);
        app.MapPost("/stores/{name}", async (string name, int? port, string? host, HttpContext http) =>
        {
            if (!admin.StoreManagement) return managementOff;
            try
            {
                var address = await stores.CreateStoreAsync(name, new TcpStoreOptions { Port = port ?? 0, Host = host }, http.RequestAborted);
                return Results.Json(new { name, address = address.ToString() }, AdminStatusClient.JsonOptions,
                    statusCode: StatusCodes.Status201Created);
            }
            catch (TcpStoreStartException e)
            {
                return Results.Json(new { name, error = e.Reason }, AdminStatusClient.JsonOptions, statusCode: StatusCodes.Status409Conflict);
            }
        });
        app.MapDelete("/stores/{name}", async (string name, HttpContext http) =>
        {
            if (!admin.StoreManagement) return managementOff;
            try
            {
                return await stores.RemoveStoreAsync(name, http.RequestAborted) ? Results.NoContent()
                    : Results.NotFound(new { error = $"no store named \"{name}\"" });
            }
            catch (TcpStoreRemoveException e)
            {
                return Results.Json(new { name, error = e.Reason }, AdminStatusClient.JsonOptions, statusCode: StatusCodes.Status409Conflict);
            }
        });
        app.MapPrometheusScrapingEndpoint("/metrics", meterProvider, configureBranchedPipeline: null, optionsName: null);
        app.MapGet("/healthz", async (HttpContext http) =>
        {
            var report = await health(http.RequestAborted);
            var body = new
            {
                status = report.Status.ToString(),
                checks = report.Entries.ToDictionary(
                    e => e.Key,
                    e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
            };
            return Results.Json(body, AdminStatusClient.JsonOptions,
                statusCode: report.Status == HealthStatus.Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK);
        });

        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            meterProvider.Dispose();
            await app.DisposeAsync();
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>()
            .Addresses.First();
        var baseAddress = new Uri(address.EndsWith('/') ? address : address + "/");
        return new AdminEndpoint(app, meterProvider, baseAddress);
    }

    /// <summary>Runs the component's own two checks, as <c>/healthz</c> does when the host has no health check service.</summary>
    public static async Task<HealthReport> RunTcpStoreChecksAsync(ActorSystem system, ActorRegistry registry, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var entries = new Dictionary<string, HealthReportEntry>();
        foreach (var (name, check) in new (string, Func<ActorSystem, ActorRegistry, CancellationToken, Task<HealthCheckResult>>)[]
                 {
                     (TcpStoreHealthChecks.ListenerCheckName, TcpStoreHealthChecks.CheckListenerAsync),
                     (TcpStoreHealthChecks.StoreCheckName, TcpStoreHealthChecks.CheckStoreAsync),
                 })
        {
            var checkStarted = System.Diagnostics.Stopwatch.GetTimestamp();
            var result = await check(system, registry, cancellationToken);
            entries[name] = new HealthReportEntry(result.Status, result.Description,
                System.Diagnostics.Stopwatch.GetElapsedTime(checkStarted), result.Exception, result.Data, TcpStoreHealthChecks.Tags);
        }
        return new HealthReport(entries, System.Diagnostics.Stopwatch.GetElapsedTime(started));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _meterProvider.Dispose();
    }

    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

    /// <summary>One store as <c>/stores</c> lists it.</summary>
    private sealed record StoreJson(string Name, string? Address, int Connections, int Keys, int WaitingConnections, string? Host)
    {
        public static StoreJson Of(TcpStoreManager.StoreSummary store) =>
            new(store.Name, store.Address?.ToString(), store.Connections, store.Keys, store.WaitingConnections, store.Host);
    }

    private static IPAddress ParseAddress(string host) =>
        host == "localhost" ? IPAddress.Loopback
        : IPAddress.TryParse(host, out var address) ? address
        : throw new ArgumentException($"tcpstore.admin.host must be an IP address (or localhost), not \"{host}\"");

    private sealed class PassiveLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private sealed class ForwardingLoggerProvider(ILoggerFactory factory) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => factory.CreateLogger(categoryName);

        public void Dispose() { }
    }
}
