using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Akka.TestKit.TestActors;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using TcpStore.Akka.Hosting;
using TcpStore.Akka.Store;
using TcpStore.TestSupport;

namespace TcpStore.Akka.Tests.Hosting;

/// <summary>The listener and store health checks that <c>WithTcpStore</c> registers with <c>WithHealthCheck</c>.</summary>
public sealed class HealthCheckTests
{
    private static async Task<IHost> StartHostAsync(int port)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Services.AddHealthChecks();
        builder.Services.AddAkka("health-test", akka =>
        {
            akka.AddHocon("akka.log-dead-letters = off", HoconAddMode.Prepend);
            akka.WithTcpStore("127.0.0.1", port);
        });
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static Task<HealthReport> EventuallyReportAsync(IHost host, HealthStatus expected) =>
        EventuallyReportAsync(host, report => report.Status == expected);

    private static async Task<HealthReport> EventuallyReportAsync(IHost host, Func<HealthReport, bool> expected)
    {
        var health = host.Services.GetRequiredService<HealthCheckService>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        HealthReport report;
        do
        {
            report = await health.CheckHealthAsync();
            if (expected(report)) break;
            await Task.Delay(50);
        } while (DateTime.UtcNow < deadline);
        return report;
    }

    [Fact]
    public async Task Bound_listeners_and_answering_stores_are_healthy()
    {
        using var host = await StartHostAsync(0);
        try
        {
            var report = await EventuallyReportAsync(host, HealthStatus.Healthy);
            Assert.Equal(HealthStatus.Healthy, report.Status);
            var listener = report.Entries[TcpStoreHealthChecks.ListenerCheckName];
            Assert.Equal(HealthStatus.Healthy, listener.Status);
            Assert.StartsWith("default listening on 127.0.0.1:", listener.Description);
            var store = report.Entries[TcpStoreHealthChecks.StoreCheckName];
            Assert.Equal(HealthStatus.Healthy, store.Status);
            Assert.StartsWith("1 store(s) answered in", store.Description);
            Assert.Contains("tcpstore", listener.Tags);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task A_store_that_cannot_bind_fails_the_hosts_start_with_the_reason()
    {
        await using var first = await TestStoreServer.StartAsync();
        var error = await Assert.ThrowsAsync<TcpStoreStartException>(() => StartHostAsync(first.Port));
        Assert.Equal(TcpStoreManager.DefaultStoreName, error.Store);
        Assert.Contains("could not bind", error.Reason);
        Assert.Contains(first.Port.ToString(), error.Reason);
    }

    [Fact]
    public async Task Stores_that_do_not_answer_within_the_bound_are_unhealthy()
    {
        var system = ActorSystem.Create("health-store-test",
            ConfigurationFactory.ParseString("tcpstore.health.store-timeout = 300ms\nakka.log-dead-letters = off"));
        try
        {
            var registry = ActorRegistry.For(system);
            var missing = await TcpStoreHealthChecks.CheckStoreAsync(system, registry, CancellationToken.None);
            Assert.Equal(HealthStatus.Unhealthy, missing.Status);
            Assert.Contains("has not started", missing.Description);

            registry.Register<TcpStoreManager>(system.ActorOf(BlackHoleActor.Props));
            var started = DateTime.UtcNow;
            var silent = await TcpStoreHealthChecks.CheckStoreAsync(system, registry, CancellationToken.None);
            Assert.Equal(HealthStatus.Unhealthy, silent.Status);
            Assert.Contains("did not answer within 0.3s", silent.Description);
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
        }
        finally
        {
            await system.Terminate();
        }
    }
}
