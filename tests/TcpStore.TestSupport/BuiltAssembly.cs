using System.Reflection;

namespace TcpStore.TestSupport;

/// <summary>
/// Finds a program that a test project builds first and names in an <c>AssemblyMetadata</c> item of its csproj (for
/// example <c>ServerAssembly</c>: the <c>tcpstore-server.dll</c> of the same configuration, built through a project
/// reference with <c>ReferenceOutputAssembly="false"</c>).
/// </summary>
public static class BuiltAssembly
{
    /// <summary>The full path that <paramref name="testAssembly"/>'s metadata <paramref name="key"/> names; throws when it is not built.</summary>
    public static string PathOf(Assembly testAssembly, string key)
    {
        var value = testAssembly.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == key)?.Value
                    ?? throw new InvalidOperationException(
                        $"{testAssembly.GetName().Name} has no AssemblyMetadata \"{key}\" (it is set in the test project's csproj)");
        var path = Path.GetFullPath(value);
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"\"{key}\" of {testAssembly.GetName().Name} is not built: {path}", path);
    }
}
