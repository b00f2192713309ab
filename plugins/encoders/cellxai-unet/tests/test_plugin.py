import subprocess
import sys

import pytest

from cellxai_core.build import load_component
from cellxai_core.errors import ConfigError
from cellxai_core.testing import use_plugins
from cellxai_unet import plugin


def test_registers_encoders_and_fusion():
    with use_plugins(plugin) as reg:
        assert {"unet", "resnet18", "resnet34"} <= set(reg.names("encoder"))
        assert reg.names("fusion") == ["temporal-attention"]
        objects = [{"name": "nucleus", "channel": "dapi"}, {"name": "cell", "channel": "actin"}]
        encoder = load_component("encoder", "unet", registry=reg, base_channels=4, depth=2, in_channels=3,
                                 objects=objects, channels=("vimentin", "actin", "dapi"))
        assert encoder.out_dim == 16 + 2 and encoder.finder.channel == [2, 1]
        names = encoder.handcrafted_names
        fusion = load_component("fusion", "temporal-attention", registry=reg, token_dim=20, side_dim=len(names), set_size=5,
                                side_names=names)
        assert fusion.out_dim == 2 + 2 * 5 and fusion.auxiliary_names["trend"] == ["nucleus", "cell"]
        with pytest.raises(ConfigError, match="divisible"):
            load_component("fusion", "temporal-attention", registry=reg, heads=3, dim=32, token_dim=4, set_size=5)
        with pytest.raises(ConfigError, match="unknown parameter"):
            load_component("encoder", "unet", registry=reg, width=3, in_channels=3)


def test_plugin_module_does_not_import_torch():
    code = "import sys, cellxai_unet.plugin; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_temporal_attention_refuses_a_set_of_one_image():
    import pytest

    from cellxai_core.errors import ConfigError
    from cellxai_unet.fusion import TemporalAttentionFusion

    with pytest.raises(ConfigError, match="at least 2 time points.*mean-pool"):
        TemporalAttentionFusion(token_dim=4, side_dim=0, set_size=1)
