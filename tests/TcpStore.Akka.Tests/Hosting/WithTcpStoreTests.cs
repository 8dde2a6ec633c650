using System.Net;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Hosting;
using TcpStore.Akka.Store;
using TcpStore.TestSupport;
using static TcpStore.TestSupport.Wire;
using TcpStore.Akka.Configuration;

namespace TcpStore.Akka.Tests.Hosting;

/// <summary>
/// The component as a host uses it: a generic host with <c>AddAkka(... WithTcpStore(...))</c>. (Akka.Hosting.TestKit
/// is built on xunit v3, which cannot share a test assembly with Akka.TestKit.Xunit2, so the host is built here.)
/// </summary>
public sealed class WithTcpStoreTests : IAsyncLifetime
{
    private IHost _host = null!;

    private ActorRegistry Registry => _host.Services.GetRequiredService<ActorRegistry>();

    public async Task InitializeAsync()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Services.AddAkka("with-tcpstore-test", akka =>
        {
            akka.AddHocon("akka.log-dead-letters = off", HoconAddMode.Prepend);
            akka.WithTcpStore(options =>
            {
                options.Host = "127.0.0.1";
                options.Port = 0;
                options.MaxKeyBytes = 64;
            });
        });
        _host = builder.Build();
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }

    private async Task<int> BoundPortAsync()
    {
        var guardian = Registry.Get<TcpStoreGuardian>();
        var binding = await guardian.Ask<TcpStoreListener.Binding>(TcpStoreListener.GetBinding.Instance,
            TimeSpan.FromSeconds(10));
        return Assert.IsType<IPEndPoint>(binding.LocalAddress).Port;
    }

    [Fact]
    public async Task Registers_the_guardian_the_store_and_the_listener_and_serves_clients()
    {
        var guardian = Registry.Get<TcpStoreGuardian>();
        var port = await BoundPortAsync();
        var store = Registry.Get<StoreEndpoint>();
        Assert.Equal($"/user/{TcpStoreHostingExtensions.ManagerName}/{TcpStoreManager.DefaultStoreName}", guardian.Path.ToStringWithoutAddress());
        var required = _host.Services.GetRequiredService<IRequiredActor<StoreEndpoint>>();
        Assert.Equal(Registry.Get<TcpStoreListener>(), await _host.Services.GetRequiredService<IRequiredActor<TcpStoreListener>>().GetAsync());
        Assert.Equal(store, await required.GetAsync());

        await using var client = await RawClient.ConnectAsync(port);
        await client.SendAsync(Set("/hosted", "yes"), Get("/hosted"));
        Assert.Equal("yes", await client.ReadStringAsync());
        var stats = await guardian.Ask<StoreProtocol.StoreStats>(StoreProtocol.GetStats.Instance, TimeSpan.FromSeconds(5));
        Assert.Equal(1, stats.Keys);
    }

    [Fact]
    public async Task Options_reach_the_running_server()
    {
        await using var client = await RawClient.ConnectAsync(await BoundPortAsync());
        await client.SendAsync(Set(new string('k', 65), "too long"));
        Assert.True(await client.ClosedByServerAsync());
        var system = _host.Services.GetRequiredService<ActorSystem>();
        Assert.Equal(64, TcpStoreSettings.Create(system).Listener.WireLimits.MaxKeyBytes);
    }

    [Fact]
    public async Task Stopping_the_host_closes_connections_and_unbinds()
    {
        var port = await BoundPortAsync();
        await using var client = await RawClient.ConnectAsync(port);
        await client.SendAsync(Wait("/until-shutdown"));
        await _host.StopAsync();
        Assert.True(await client.ClosedByServerAsync());
        Assert.True(await TestStoreServer.EventuallyAsync(async () =>
        {
            try
            {
                await using var late = await RawClient.ConnectAsync(port);
                return false;
            }
            catch (System.Net.Sockets.SocketException)
            {
                return true;
            }
        }, TimeSpan.FromSeconds(10)));
    }
}
