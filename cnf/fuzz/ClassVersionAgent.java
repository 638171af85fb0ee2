import java.lang.instrument.ClassFileTransformer;
import java.lang.instrument.Instrumentation;
import java.security.ProtectionDomain;

/**
 * A Java agent for cnf/fuzz.sh: Jazzer 0.24 bundles an ASM that reads
 * class files up to Java 23 (major version 67), so it refuses to add
 * coverage to this project's classes (release 25, major 69) and fuzzing
 * would run blind. This agent, loaded before Jazzer's, relabels the
 * project's own classes as version 67 on their way to Jazzer's
 * transformer. That is sound for them: Java 24 and 25 added no class file
 * structures outside preview features, which the project does not enable,
 * and the classes' use of newer library APIs does not depend on the label.
 * Only the packages named in the agent's argument (comma-separated
 * internal-name prefixes, e.g. "vmm/,device/") are touched.
 */
public final class ClassVersionAgent {
    private static final int MAGIC = 0xCAFEBABE, JAVA_23 = 67;

    private ClassVersionAgent() {
    }

    public static void premain(String args, Instrumentation inst) {
        String[] prefixes = args == null || args.isBlank() ? new String[] {""} : args.split(",");
        // Not retransformation-capable: the JVM calls it before any capable one (Jazzer's),
        // and reuses its result when Jazzer retransforms classes loaded before it attached.
        inst.addTransformer(new ClassFileTransformer() {
            @Override
            public byte[] transform(ClassLoader loader, String name, Class<?> redefined, ProtectionDomain domain,
                                    byte[] bytes) {
                if (name == null || bytes.length < 8 || !matches(name, prefixes)) return null;
                int magic = (bytes[0] & 0xff) << 24 | (bytes[1] & 0xff) << 16 | (bytes[2] & 0xff) << 8 | bytes[3] & 0xff;
                int minor = (bytes[4] & 0xff) << 8 | bytes[5] & 0xff;
                int major = (bytes[6] & 0xff) << 8 | bytes[7] & 0xff;
                if (magic != MAGIC || major <= JAVA_23 || minor != 0) return null;
                byte[] copy = bytes.clone();
                copy[6] = 0;
                copy[7] = (byte) JAVA_23;
                return copy;
            }
        });
    }

    private static boolean matches(String name, String[] prefixes) {
        for (String p : prefixes)
            if (name.startsWith(p.trim())) return true;
        return false;
    }
}
