using Akka.Configuration;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Hosting;
using TcpStore.Akka.Status;

namespace TcpStore.Akka.Tests.Hosting;

public sealed class AdminSettingsTests
{
    [Fact]
    public void The_admin_endpoint_is_off_and_on_loopback_by_default()
    {
        var settings = TcpStoreSettings.Create(Config.Empty);
        Assert.Equal(AdminSettings.Default, settings.Admin);
        Assert.False(settings.Admin.Enabled);
        Assert.Equal("127.0.0.1", settings.Admin.Host);
        Assert.Equal(TimeSpan.FromSeconds(2), settings.StoreHealthTimeout);
    }

    [Fact]
    public void An_admin_port_option_enables_the_endpoint_unless_disabled_explicitly()
    {
        Assert.Equal("tcpstore.admin.enabled = on\ntcpstore.admin.port = 9100\n", new TcpStoreOptions { AdminPort = 9100 }.ToHocon());
        var settings = TcpStoreSettings.Create(new TcpStoreOptions { AdminPort = 9100 }.ToConfig().GetConfig("tcpstore"));
        Assert.True(settings.Admin.Enabled);
        Assert.Equal(9100, settings.Admin.Port);

        var off = new TcpStoreOptions { AdminPort = 9100, AdminEnabled = false, AdminHost = "::1", StoreHealthTimeout = TimeSpan.FromMilliseconds(250) };
        settings = TcpStoreSettings.Create(off.ToConfig().GetConfig("tcpstore"));
        Assert.False(settings.Admin.Enabled);
        Assert.Equal("::1", settings.Admin.Host);
        Assert.Equal(TimeSpan.FromMilliseconds(250), settings.StoreHealthTimeout);
    }

    [Theory]
    [InlineData("admin.port = 65536")]
    [InlineData("admin.page-size = 0")]
    [InlineData("health.store-timeout = 0s")]
    public void Out_of_range_admin_settings_are_refused_with_the_key_named(string hocon)
    {
        var error = Assert.Throws<ConfigurationException>(() => TcpStoreSettings.Create(ConfigurationFactory.ParseString(hocon)));
        Assert.Contains(hocon.Split(' ')[0], error.Message);
    }
}
