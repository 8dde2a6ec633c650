using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Store;

namespace TcpStore.Akka.Hosting;

/// <summary>
/// The component's health checks, registered by <c>WithTcpStore</c> through Akka.Hosting's <c>WithHealthCheck</c>
/// (they need <c>services.AddHealthChecks()</c> in the host to be run; the admin endpoint's <c>/healthz</c> runs them).
/// </summary>
public static class TcpStoreHealthChecks
{
    /// <summary>The listener has bound its port.</summary>
    public const string ListenerCheckName = "tcpstore-listener";

    /// <summary>The store answers a stats request within <c>tcpstore.health.store-timeout</c>.</summary>
    public const string StoreCheckName = "tcpstore-store";

    /// <summary>Tags of both checks: <c>tcpstore</c> and <c>ready</c> (Akka.Hosting adds <c>akka.net</c>).</summary>
    public static readonly IReadOnlyList<string> Tags = ["tcpstore", "ready"];

    /// <summary>Healthy when every store's listener is bound; a store that could not bind never starts, so this
    /// fails only until the stores have started (or when none was asked for).</summary>
    public static async Task<HealthCheckResult> CheckListenerAsync(
        ActorSystem system, ActorRegistry registry, CancellationToken cancellationToken)
    {
        var (stores, failure) = await ListAsync(system, registry, cancellationToken);
        if (stores is null) return HealthCheckResult.Unhealthy(failure);
        return stores.Count == 0
            ? HealthCheckResult.Unhealthy("no TcpStore store is serving")
            : HealthCheckResult.Healthy(string.Join(", ", stores.Select(s => $"{s.Name} listening on {s.Address}")));
    }

    /// <summary>Healthy when every store answers a <see cref="StoreProtocol.GetStats"/> within the configured bound.</summary>
    public static async Task<HealthCheckResult> CheckStoreAsync(
        ActorSystem system, ActorRegistry registry, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var (stores, failure) = await ListAsync(system, registry, cancellationToken);
        if (stores is null) return HealthCheckResult.Unhealthy(failure);
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        return HealthCheckResult.Healthy(
            $"{stores.Count} store(s) answered in {elapsed.TotalMilliseconds:0.#} ms " +
            $"({stores.Sum(s => s.Keys)} keys, {stores.Sum(s => s.WaitingConnections)} waiting)");
    }

    /// <summary>Registers both checks on <paramref name="builder"/>, once however often it is called.</summary>
    public static AkkaConfigurationBuilder WithTcpStoreHealthChecks(this AkkaConfigurationBuilder builder)
    {
        if (Registered.TryGetValue(builder, out _)) return builder;
        Registered.Add(builder, Registered);
        return builder
            .WithHealthCheck(ListenerCheckName, CheckListenerAsync, HealthStatus.Unhealthy, Tags)
            .WithHealthCheck(StoreCheckName, CheckStoreAsync, HealthStatus.Unhealthy, Tags);
    }

    private static readonly ConditionalWeakTable<AkkaConfigurationBuilder, object> Registered = new();

    /// <summary>Every store's summary from the manager, which asks each store within the health bound.</summary>
    private static async Task<(IReadOnlyList<TcpStoreManager.StoreSummary>? Stores, string Failure)> ListAsync(
        ActorSystem system, ActorRegistry registry, CancellationToken cancellationToken)
    {
        if (!registry.TryGet<TcpStoreManager>(out var manager))
            return (null, "TcpStore has not started");
        var timeout = StoreTimeout(system);
        try
        {
            var list = await manager.Ask<TcpStoreManager.StoreList>(
                new TcpStoreManager.ListStores(timeout), timeout + timeout, cancellationToken);
            return (list.Stores, "");
        }
        catch (AskTimeoutException)
        {
            return (null, $"the stores did not answer within {timeout.TotalSeconds:0.###}s");
        }
        catch (TimeoutException)
        {
            return (null, $"a store did not answer within {timeout.TotalSeconds:0.###}s");
        }
    }

    private static TimeSpan StoreTimeout(ActorSystem system)
    {
        var config = system.Settings.Config;
        const string key = TcpStoreSettings.ConfigPath + ".health.store-timeout";
        return config.HasPath(key) ? config.GetTimeSpan(key) : TimeSpan.FromSeconds(2);
    }
}
