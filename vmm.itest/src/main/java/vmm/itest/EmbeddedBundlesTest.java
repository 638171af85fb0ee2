package vmm.itest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.namespace.PackageNamespace;
import org.osgi.framework.wiring.BundleRevision;
import org.osgi.framework.wiring.BundleWiring;
import org.osgi.framework.wiring.FrameworkWiring;
import org.osgi.test.assertj.bundle.BundleAssert;
import org.osgi.test.common.annotation.InjectBundleContext;

/**
 * The embedded-bundle mechanism, proved with a small third-party bundle
 * (org.osgi.service.component.annotations, not a run bundle): install,
 * start, stop, update, refresh, uninstall.
 */
class EmbeddedBundlesTest {
    static final String NAME = "org.osgi.service.component.annotations";

    @InjectBundleContext
    BundleContext context;

    @Test
    void theEmbeddedBundlesAreListed() {
        assertThat(EmbeddedBundles.names()).contains(NAME);
        assertThat(EmbeddedBundles.location(NAME)).isEqualTo("vmm.itest:bundles/" + NAME + ".jar");
    }

    @Test
    void theEmbeddedBundleIsNotARunBundle() {
        assertThat(context.getBundles()).extracting(Bundle::getSymbolicName).doesNotContain(NAME);
    }

    @Test
    void installStartStopUpdateUninstall() throws Exception {
        Bundle bundle = EmbeddedBundles.install(context, NAME);
        try {
            BundleAssert.assertThat(bundle)
                    .hasSymbolicName(NAME)
                    .hasLocation(EmbeddedBundles.location(NAME))
                    .isInState(Bundle.INSTALLED);

            bundle.start();
            BundleAssert.assertThat(bundle).isInState(Bundle.ACTIVE);
            assertThat(bundle.adapt(BundleWiring.class).getCapabilities(PackageNamespace.PACKAGE_NAMESPACE))
                    .extracting(c -> c.getAttributes().get(PackageNamespace.PACKAGE_NAMESPACE))
                    .contains("org.osgi.service.component.annotations");

            bundle.stop();
            BundleAssert.assertThat(bundle).isInState(Bundle.RESOLVED);

            BundleRevision before = bundle.adapt(BundleRevision.class);
            EmbeddedBundles.update(bundle, NAME);
            BundleRevision after = bundle.adapt(BundleRevision.class);
            assertThat(after).isNotSameAs(before);
            assertThat(bundle.getBundleId()).isEqualTo(before.getBundle().getBundleId());
            BundleAssert.assertThat(bundle).isInStateMaskedBy(Bundle.INSTALLED | Bundle.RESOLVED);

            refresh(bundle);
            bundle.start();
            BundleAssert.assertThat(bundle).isInState(Bundle.ACTIVE);
            assertThat(bundle.adapt(BundleRevision.class)).isSameAs(after);
            bundle.stop();
        } finally {
            bundle.uninstall();
        }
        BundleAssert.assertThat(bundle).isInState(Bundle.UNINSTALLED);
        assertThat(context.getBundle(EmbeddedBundles.location(NAME))).isNull();
    }

    @Test
    void installingTheSameBundleTwiceIsRejected() throws Exception {
        Bundle bundle = EmbeddedBundles.install(context, NAME);
        try {
            assertThatThrownBy(() -> EmbeddedBundles.install(context, NAME))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("already installed");
        } finally {
            bundle.uninstall();
        }
    }

    @Test
    void anUnknownNameIsRejectedWithTheNamesThereAre() {
        assertThatThrownBy(() -> EmbeddedBundles.install(context, "no.such.bundle"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bundles/no.such.bundle.jar")
                .hasMessageContaining(NAME);
    }

    private void refresh(Bundle bundle) throws InterruptedException {
        FrameworkWiring wiring = context.getBundle(Constants.SYSTEM_BUNDLE_LOCATION).adapt(FrameworkWiring.class);
        CountDownLatch done = new CountDownLatch(1);
        wiring.refreshBundles(List.of(bundle), event -> {
            if (event.getType() == FrameworkEvent.PACKAGES_REFRESHED) {
                done.countDown();
            }
        });
        assertThat(done.await(30, TimeUnit.SECONDS)).as("refresh finished").isTrue();
    }
}
