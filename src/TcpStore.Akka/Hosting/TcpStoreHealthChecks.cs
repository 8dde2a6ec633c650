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

    /// <summary>Healthy when the listener reports a bound address; unhealthy when it failed to bind or has not yet.</summary>
    public static async Task<HealthCheckResult> CheckListenerAsync(
        ActorSystem system, ActorRegistry registry, CancellationToken cancellationToken)
    {
        if (!registry.TryGet<TcpStoreListener>(out var listener))
            return HealthCheckResult.Unhealthy("the TcpStore listener has not started");
        var timeout = StoreTimeout(system);
        try
        {
            // The listener stashes this request until its bind has succeeded or failed.
            var binding = await listener.Ask<TcpStoreListener.Binding>(
                TcpStoreListener.GetBinding.Instance, timeout, cancellationToken);
            return binding.LocalAddress is { } address
                ? HealthCheckResult.Healthy($"listening on {address}")
                : HealthCheckResult.Unhealthy($"the listener could not bind: {binding.Failure}");
        }
        catch (AskTimeoutException)
        {
            return HealthCheckResult.Unhealthy($"the listener has not bound within {timeout.TotalSeconds:0.###}s");
        }
    }

    /// <summary>Healthy when the store answers a <see cref="StoreProtocol.GetStats"/> within the configured bound.</summary>
    public static async Task<HealthCheckResult> CheckStoreAsync(
        ActorSystem system, ActorRegistry registry, CancellationToken cancellationToken)
    {
        if (!registry.TryGet<StoreEndpoint>(out var store))
            return HealthCheckResult.Unhealthy("the TcpStore store has not started");
        var timeout = StoreTimeout(system);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            var stats = await store.Ask<StoreProtocol.StoreStats>(StoreProtocol.GetStats.Instance, timeout, cancellationToken);
            var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            return HealthCheckResult.Healthy(
                $"the store answered in {elapsed.TotalMilliseconds:0.#} ms ({stats.Keys} keys, {stats.WaitingConnections} waiting)");
        }
        catch (AskTimeoutException)
        {
            return HealthCheckResult.Unhealthy($"the store did not answer within {timeout.TotalSeconds:0.###}s");
        }
    }

    /// <summary>Registers both checks on <paramref name="builder"/>.</summary>
    public static AkkaConfigurationBuilder WithTcpStoreHealthChecks(this AkkaConfigurationBuilder builder) =>
        builder
            .WithHealthCheck(ListenerCheckName, CheckListenerAsync, HealthStatus.Unhealthy, Tags)
            .WithHealthCheck(StoreCheckName, CheckStoreAsync, HealthStatus.Unhealthy, Tags);

    private static TimeSpan StoreTimeout(ActorSystem system)
    {
        var config = system.Settings.Config;
        const string key = TcpStoreSettings.ConfigPath + ".health.store-timeout";
        return config.HasPath(key) ? config.GetTimeSpan(key) : TimeSpan.FromSeconds(2);
    }
}
