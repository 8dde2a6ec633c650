using TcpStore.TestSupport;

namespace TcpStore.Akka.Cluster.Tests.Support;

/// <summary>The <c>tcpstore-server.dll</c> built with this test project (<c>ServerAssembly</c> in its csproj).</summary>
internal static class BuiltServer
{
    public static string Path => BuiltAssembly.PathOf(typeof(BuiltServer).Assembly, "ServerAssembly");
}
