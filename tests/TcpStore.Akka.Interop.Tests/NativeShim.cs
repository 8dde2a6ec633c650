using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace TcpStore.Akka.Interop.Tests;

/// <summary>
/// Builds (once per source/libtorch combination, cached on disk) and loads <c>native/tcpstore_shim.cpp</c>:
/// our C API over PyTorch 2.10's <c>c10d::TCPStore</c> inside <c>libtorch_cpu.so</c> from the NuGet package
/// <c>libtorch-cpu-linux-x64</c> 2.10.0 (a <c>PackageDownload</c> of the test project).
/// </summary>
/// <remarks>
/// <para>
/// Shape: a shared library loaded into the test process and called through unmanaged function pointers, rather
/// than a helper executable driven over stdin/stdout. Measured on the 2-core dev box: the in-process call costs
/// what PyTorch's client costs (tens of µs per round trip), blocking calls from many threads need no
/// multiplexing protocol, and a g++ build of the shim takes about 3 s. The one thing an executable gets for free
/// is symbol interposition of <c>getnameinfo</c> (PyTorch does a reverse-DNS lookup per connection, which stalls
/// bursts of connects for the resolver's 5 s timeout); a normally <c>dlopen</c>'ed library cannot interpose libc
/// for libtorch, because the global scope (where libc already is) is searched first. Loading the shim with
/// <c>RTLD_DEEPBIND</c> puts the shim's own dependency scope (shim first, then libtorch, libc10, ...) ahead of the
/// global one, so libtorch binds to the shim's <c>getnameinfo</c>. <see cref="GetNameInfoCalls"/> proves it at run
/// time, and a test asserts it. Measured here, 64 concurrent connects to PyTorch's libuv server: 150-260 ms with
/// RTLD_DEEPBIND; with a plain dlopen (override not reached) or with <c>TCPSTORE_SHIM_REVERSE_DNS=1</c> (override
/// keeps the lookups) some of them do not even connect within a 10 s store timeout.
/// </para>
/// <para>
/// Safety: the shim catches every C++ exception and returns it as an error code plus text, so no C++ exception
/// crosses into .NET. A native call that never returns cannot be aborted, so <see cref="TorchStore"/> runs each
/// call on its own thread under a deadline; a timed-out call fails the test and its store is left alive (never
/// freed under a running call).
/// </para>
/// <para>
/// Missing g++ or a missing libtorch package is an error (the tests fail with the reason), never a skip.
/// </para>
/// </remarks>
internal sealed unsafe class NativeShim
{
    /// <summary>Run-time override of the folder that holds libtorch_cpu.so and libc10.so.</summary>
    public const string LibTorchDirVariable = "TCPSTORE_LIBTORCH_DIR";

    /// <summary>Run-time override of the folder where built shims are cached.</summary>
    public const string CacheDirVariable = "TCPSTORE_SHIM_CACHE";

    /// <summary>Compiler to use (default <c>g++</c> from PATH).</summary>
    public const string CompilerVariable = "CXX";

    private const int ExpectedAbiVersion = 1;
    private const string SourceFileName = "tcpstore_shim.cpp";
    private const int RtldNow = 0x2;
    private const int RtldDeepBind = 0x8;

    private static readonly Lazy<NativeShim> Shared = new(Create, LazyThreadSafetyMode.ExecutionAndPublication);

    private NativeShim(string libraryPath, string libTorchDir, nint handle)
    {
        LibraryPath = libraryPath;
        LibTorchDir = libTorchDir;
        Handle = handle;
        Fn = new Functions(handle);
    }

    /// <summary>The shim of this process: built if needed and loaded on first use. Throws with the reason.</summary>
    public static NativeShim Instance => Shared.Value;

    public string LibraryPath { get; }

    public string LibTorchDir { get; }

    public nint Handle { get; }

    internal Functions Fn { get; }

    /// <summary>How many times libtorch called getnameinfo through the shim's override.</summary>
    public long GetNameInfoCalls => Fn.GetNameInfoCalls();

    private static NativeShim Create()
    {
        var libTorchDir = FindLibTorchDir();
        var source = FindSource();
        var compiler = Environment.GetEnvironmentVariable(CompilerVariable) is { Length: > 0 } cxx ? cxx : "g++";
        string[] flags =
        [
            "-std=c++17", "-O1", "-g0", "-shared", "-fPIC", "-pthread", "-Wall", "-Wextra",
            "-fvisibility=hidden",
        ];
        string[] linkFlags =
        [
            "-L" + libTorchDir, "-Wl,--no-as-needed", "-ltorch_cpu", "-lc10", "-Wl,--as-needed",
            "-Wl,-rpath," + libTorchDir, "-Wl,--no-undefined",
        ];

        var sourceBytes = File.ReadAllBytes(source);
        var key = Hash(sourceBytes, libTorchDir, compiler, string.Join(' ', flags), string.Join(' ', linkFlags));
        var dir = Path.Combine(CacheRoot(), key);
        var library = Path.Combine(dir, "libtcpstore_shim.so");
        if (!File.Exists(library))
        {
            Directory.CreateDirectory(dir);
            // Build into a private temporary name, then rename: concurrent test processes may both build, but
            // each rename is atomic and every reader sees a complete file.
            var temp = Path.Combine(dir, $".build-{Environment.ProcessId}-{Guid.NewGuid():N}.so");
            try
            {
                Compile(compiler, [.. flags, "-o", temp, source, .. linkFlags]);
                File.Move(temp, library, overwrite: true);
            }
            finally
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
        }

        var handle = DlOpen(library, RtldNow | RtldDeepBind);
        if (handle == 0)
        {
            throw new InvalidOperationException(
                $"Interop: could not load the native shim {library}: {DlError()}. " +
                $"Delete {dir} to force a rebuild.");
        }

        var shim = new NativeShim(library, libTorchDir, handle);
        var abi = shim.Fn.AbiVersion();
        if (abi != ExpectedAbiVersion)
        {
            throw new InvalidOperationException(
                $"Interop: {library} reports ABI version {abi}, the tests expect {ExpectedAbiVersion}.");
        }

        return shim;
    }

    private static string FindLibTorchDir()
    {
        var fromEnv = Environment.GetEnvironmentVariable(LibTorchDirVariable);
        var fromBuild = typeof(NativeShim).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "TcpStore.Interop.LibTorchDir")?.Value;
        var dir = fromEnv is { Length: > 0 } ? fromEnv : fromBuild;
        var origin = fromEnv is { Length: > 0 } ? $"${LibTorchDirVariable}" : "the build (NuGet PackageDownload)";
        if (string.IsNullOrEmpty(dir))
        {
            throw new InvalidOperationException(
                "Interop: the libtorch folder is unknown: the test assembly carries no TcpStore.Interop.LibTorchDir " +
                $"metadata and ${LibTorchDirVariable} is not set. Rebuild tests/TcpStore.Akka.Tests (its restore " +
                "downloads the NuGet package libtorch-cpu-linux-x64 2.10.0).");
        }

        dir = Path.GetFullPath(dir);
        foreach (var lib in new[] { "libtorch_cpu.so", "libc10.so" })
        {
            if (!File.Exists(Path.Combine(dir, lib)))
            {
                throw new InvalidOperationException(
                    $"Interop: {lib} not found in {dir} (from {origin}). The interop tests need PyTorch 2.10's " +
                    "libraries from the NuGet package libtorch-cpu-linux-x64 2.10.0: run `dotnet restore " +
                    $"tests/TcpStore.Akka.Tests` (about 130 MB, once) or point ${LibTorchDirVariable} at a folder " +
                    "holding libtorch_cpu.so and libc10.so.");
            }
        }

        return dir;
    }

    private static string FindSource()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "native", SourceFileName);
        if (!File.Exists(path))
        {
            throw new InvalidOperationException(
                $"Interop: the shim source {path} is missing; the test project copies native/** to its " +
                "output folder, rebuild it.");
        }

        return path;
    }

    private static string CacheRoot()
    {
        if (Environment.GetEnvironmentVariable(CacheDirVariable) is { Length: > 0 } custom) return custom;
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var root = xdg is { Length: > 0 }
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "tcpstore-akka", "interop-shim");
    }

    private static string Hash(byte[] source, params string[] parts)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(source);
        foreach (var part in parts)
        {
            sha.AppendData(Encoding.UTF8.GetBytes("\0" + part));
        }

        return Convert.ToHexString(sha.GetHashAndReset())[..16].ToLowerInvariant();
    }

    private static void Compile(string compiler, string[] arguments)
    {
        var psi = new ProcessStartInfo(compiler)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments) psi.ArgumentList.Add(a);

        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException("Process.Start returned null");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new InvalidOperationException(
                $"Interop: the C++ compiler '{compiler}' could not be started ({e.Message}). The interop tests " +
                "build a native shim over PyTorch's TCPStore at test time and need g++ with C++17 " +
                $"(Debian: apt-get install g++), or ${CompilerVariable} naming one.", e);
        }

        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"Interop: '{compiler}' did not finish within 3 minutes.");
            }

            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException(
                    $"Interop: building the native shim failed ({compiler} exit code {process.ExitCode}):\n" +
                    $"{compiler} {string.Join(' ', arguments)}\n{stdout.Result}{stderr.Result}");
            }
        }
    }

    private static nint DlOpen(string path, int flags)
    {
        var libc = NativeLibrary.Load("libc.so.6");
        var dlopen = (delegate* unmanaged<byte*, int, nint>)NativeLibrary.GetExport(libc, "dlopen");
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            return dlopen(p, flags);
        }
    }

    private static string DlError()
    {
        var libc = NativeLibrary.Load("libc.so.6");
        var dlerror = (delegate* unmanaged<byte*>)NativeLibrary.GetExport(libc, "dlerror");
        var message = dlerror();
        return message == null ? "(no dlerror)" : Marshal.PtrToStringUTF8((nint)message) ?? "(no dlerror)";
    }

    /// <summary>The shim's exports (see the C API comment in tcpstore_shim.cpp).</summary>
    internal sealed class Functions
    {
        public readonly delegate* unmanaged<int> AbiVersion;
        public readonly delegate* unmanaged<nint> GetNameInfoCalls;
        public readonly delegate* unmanaged<void*, void> Free;
        public readonly delegate* unmanaged<byte*, int, int, int, long, long, int, nint*, byte**, int> Open;
        public readonly delegate* unmanaged<nint, void> Close;
        public readonly delegate* unmanaged<nint, int> Port;
        public readonly delegate* unmanaged<nint, int> IsLibUv;
        public readonly delegate* unmanaged<nint, nint*, byte**, int> Clone;
        public readonly delegate* unmanaged<nint, byte*, byte**, int> SetKeyPrefix;
        public readonly delegate* unmanaged<nint, long, byte**, int> SetTimeout;
        public readonly delegate* unmanaged<nint, byte*, nuint, byte*, nuint, byte**, int> Set;
        public readonly delegate* unmanaged<nint, byte*, nuint, byte**, nuint*, byte**, int> Get;
        public readonly delegate* unmanaged<nint, byte*, nuint, long, long*, byte**, int> Add;
        public readonly delegate* unmanaged<nint, byte*, nuint, byte*, nuint, byte*, nuint, byte**, nuint*, byte**, int>
            CompareSet;
        public readonly delegate* unmanaged<nint, byte**, nuint*, nuint, int*, byte**, int> Check;
        public readonly delegate* unmanaged<nint, byte**, nuint*, nuint, long, byte**, int> Wait;
        public readonly delegate* unmanaged<nint, byte*, nuint, int*, byte**, int> DeleteKey;
        public readonly delegate* unmanaged<nint, long*, byte**, int> NumKeys;
        public readonly delegate* unmanaged<nint, byte*, nuint, byte*, nuint, byte**, int> Append;
        public readonly delegate* unmanaged<nint, byte**, nuint*, nuint, byte**, nuint*, byte**, int> MultiGet;
        public readonly delegate* unmanaged<nint, byte**, nuint*, byte**, nuint*, nuint, byte**, int> MultiSet;
        public readonly delegate* unmanaged<nint, byte*, nuint, byte*, nuint, byte**, int> QueuePush;
        public readonly delegate* unmanaged<nint, byte*, nuint, int, byte**, nuint*, byte**, int> QueuePop;
        public readonly delegate* unmanaged<nint, byte*, nuint, long*, byte**, int> QueueLen;
        public readonly delegate* unmanaged<nint, byte**, nuint*, byte**, int> ListKeys;

        public Functions(nint lib)
        {
            AbiVersion = (delegate* unmanaged<int>)Export(lib, "ts_abi_version");
            GetNameInfoCalls = (delegate* unmanaged<nint>)Export(lib, "ts_getnameinfo_calls");
            Free = (delegate* unmanaged<void*, void>)Export(lib, "ts_free");
            Open = (delegate* unmanaged<byte*, int, int, int, long, long, int, nint*, byte**, int>)Export(lib, "ts_open");
            Close = (delegate* unmanaged<nint, void>)Export(lib, "ts_close");
            Port = (delegate* unmanaged<nint, int>)Export(lib, "ts_port");
            IsLibUv = (delegate* unmanaged<nint, int>)Export(lib, "ts_is_libuv");
            Clone = (delegate* unmanaged<nint, nint*, byte**, int>)Export(lib, "ts_clone");
            SetKeyPrefix = (delegate* unmanaged<nint, byte*, byte**, int>)Export(lib, "ts_set_key_prefix");
            SetTimeout = (delegate* unmanaged<nint, long, byte**, int>)Export(lib, "ts_set_timeout");
            Set = (delegate* unmanaged<nint, byte*, nuint, byte*, nuint, byte**, int>)Export(lib, "ts_set");
            Get = (delegate* unmanaged<nint, byte*, nuint, byte**, nuint*, byte**, int>)Export(lib, "ts_get");
            Add = (delegate* unmanaged<nint, byte*, nuint, long, long*, byte**, int>)Export(lib, "ts_add");
            CompareSet = (delegate* unmanaged<nint, byte*, nuint, byte*, nuint, byte*, nuint, byte**, nuint*, byte**, int>)
                Export(lib, "ts_compare_set");
            Check = (delegate* unmanaged<nint, byte**, nuint*, nuint, int*, byte**, int>)Export(lib, "ts_check");
            Wait = (delegate* unmanaged<nint, byte**, nuint*, nuint, long, byte**, int>)Export(lib, "ts_wait");
            DeleteKey = (delegate* unmanaged<nint, byte*, nuint, int*, byte**, int>)Export(lib, "ts_delete_key");
            NumKeys = (delegate* unmanaged<nint, long*, byte**, int>)Export(lib, "ts_num_keys");
            Append = (delegate* unmanaged<nint, byte*, nuint, byte*, nuint, byte**, int>)Export(lib, "ts_append");
            MultiGet = (delegate* unmanaged<nint, byte**, nuint*, nuint, byte**, nuint*, byte**, int>)
                Export(lib, "ts_multi_get");
            MultiSet = (delegate* unmanaged<nint, byte**, nuint*, byte**, nuint*, nuint, byte**, int>)
                Export(lib, "ts_multi_set");
            QueuePush = (delegate* unmanaged<nint, byte*, nuint, byte*, nuint, byte**, int>)Export(lib, "ts_queue_push");
            QueuePop = (delegate* unmanaged<nint, byte*, nuint, int, byte**, nuint*, byte**, int>)
                Export(lib, "ts_queue_pop");
            QueueLen = (delegate* unmanaged<nint, byte*, nuint, long*, byte**, int>)Export(lib, "ts_queue_len");
            ListKeys = (delegate* unmanaged<nint, byte**, nuint*, byte**, int>)Export(lib, "ts_list_keys");
        }

        private static nint Export(nint lib, string name) =>
            NativeLibrary.TryGetExport(lib, name, out var address)
                ? address
                : throw new InvalidOperationException($"Interop: the native shim does not export {name}.");
    }
}
